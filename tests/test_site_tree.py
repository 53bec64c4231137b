"""The site tree: parents, paths, depth caps per plan, closing and purging."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_exists

from shared.sites.models import Domain, Plan, Site, SiteStatus
from shared.sites.selectors import site_ancestors, site_descendants
from shared.sites.services import ProvisionedSite, site_close, site_purge
from tests.conftest import Network


def test_tree_records_depth_and_path(make_site: Callable[..., ProvisionedSite]) -> None:
    root = make_site(slug="root").site
    child = make_site(slug="child", parent=root).site
    grandchild = make_site(slug="grandchild", parent=child).site
    assert [s.depth for s in (root, child, grandchild)] == [1, 2, 3]
    assert grandchild.path == [root.pk, child.pk, grandchild.pk]
    assert [s.slug for s in site_ancestors(grandchild)] == ["root", "child"]
    assert set(site_descendants(root).values_list("slug", flat=True)) == {"child", "grandchild"}


def test_default_plan_allows_five_levels_and_refuses_the_sixth(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    parent = make_site(slug="d1").site
    for depth in range(2, 6):
        parent = make_site(slug=f"d{depth}", parent=parent).site
    assert parent.depth == 5
    sites_before = Site.objects.count()
    with pytest.raises(ValidationError, match="depth 6 exceeds the plan's depth cap of 5"):
        make_site(slug="d6", parent=parent)
    assert Site.objects.count() == sites_before
    assert not schema_exists("site_d6")


def test_an_ancestors_plan_caps_its_whole_subtree(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    shallow = Plan.objects.create(code="shallow", name="Shallow", max_depth=2)
    deep = Plan.objects.create(code="deep", name="Deep", max_depth=9)
    root = make_site(slug="capped", plan=shallow).site
    child = make_site(slug="capped-kid", parent=root, plan=deep).site
    with pytest.raises(ValidationError, match="depth cap of 2"):
        make_site(slug="capped-grandkid", parent=child, plan=deep)


def test_cannot_create_under_inactive_parent(
    make_site: Callable[..., ProvisionedSite], network: Network
) -> None:
    network.beta.status = SiteStatus.SUSPENDED
    network.beta.save()
    with pytest.raises(ValidationError, match="not active"):
        make_site(slug="orphan", parent=network.beta)


def test_close_keeps_data_and_purge_removes_it(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    site = make_site(slug="closing").site
    with pytest.raises(ValidationError, match="closed site"):
        site_purge(site=site, confirm_slug="closing")
    site_close(site=site)
    assert Site.objects.get(pk=site.pk).status == SiteStatus.CLOSED
    assert schema_exists("site_closing")
    with pytest.raises(ValidationError, match="Type the site's slug"):
        site_purge(site=site, confirm_slug="wrong")
    assert schema_exists("site_closing")
    site_purge(site=site, confirm_slug="closing")
    assert not schema_exists("site_closing")
    assert not Site.objects.filter(pk=site.pk).exists()
    assert not Domain.objects.filter(domain="closing.localhost").exists()


def test_close_refuses_while_subsites_are_open(
    make_site: Callable[..., ProvisionedSite],
) -> None:
    root = make_site(slug="busy").site
    make_site(slug="busy-kid", parent=root)
    with pytest.raises(ValidationError, match="busy-kid"):
        site_close(site=root)
    assert Site.objects.get(pk=root.pk).status == SiteStatus.ACTIVE
