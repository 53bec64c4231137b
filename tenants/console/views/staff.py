"""Staff roles of the site: who may do what in this console."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.console import roles, selectors
from tenants.console.access import console_action, console_view
from tenants.console.forms import StaffRoleForm, add_service_errors
from tenants.console.roles import Role
from tenants.console.services import staff_role_assign, staff_role_revoke


@console_view(view=roles.MANAGE_STAFF, change=roles.MANAGE_STAFF)
def staff(request: HttpRequest) -> HttpResponse:
    form = StaffRoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = selectors.member_by_email(form.cleaned_data["email"])
        if user is None:
            form.add_error("email", _("No member of this site has that email address."))
        else:
            try:
                staff_role_assign(
                    user=user,
                    role=Role(form.cleaned_data["role"]),
                    actor=request.user,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("%(email)s is now staff.") % {"email": user.email})
                return redirect("console:staff")
    return render(
        request,
        "console/staff.html",
        {"rows": selectors.staff_rows(), "form": form, "roles": list(Role)},
    )


@console_action(change=roles.MANAGE_STAFF)
def staff_revoke(request: HttpRequest, user_id: int) -> HttpResponse:
    user = selectors.staff_user_get(user_id=user_id)
    try:
        staff_role_revoke(user=user, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(email)s is no longer staff.") % {"email": user.email})
    return redirect("console:staff")
