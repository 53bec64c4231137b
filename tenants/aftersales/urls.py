"""Buyers' after-sales tickets on every site's domains."""

from django.urls import path

from tenants.aftersales import views

app_name = "aftersales"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/<str:number>/", views.ticket_new, name="new"),
    path("<int:ticket_id>/", views.ticket_detail, name="ticket"),
    path("<int:ticket_id>/reply/", views.ticket_reply_view, name="reply"),
    path(
        "<int:ticket_id>/files/<int:attachment_id>/",
        views.attachment_download,
        name="attachment",
    ),
]
