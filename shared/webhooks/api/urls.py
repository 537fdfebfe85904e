from django.urls import path

from shared.webhooks.api import views

urlpatterns = [
    path(
        "webhooks/subscriptions/",
        views.SubscriptionListApi.as_view(),
        name="webhook-subscriptions",
    ),
    path(
        "webhooks/subscriptions/<str:subscription_id>/",
        views.SubscriptionDetailApi.as_view(),
        name="webhook-subscription",
    ),
    path("webhooks/signing-key/", views.SigningKeyApi.as_view(), name="webhook-signing-key"),
    path("webhooks/events/", views.WebhookEventListApi.as_view(), name="webhook-events"),
    path("webhooks/events/retry/", views.WebhookRetryApi.as_view(), name="webhook-retry"),
]
