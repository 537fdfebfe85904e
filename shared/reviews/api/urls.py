from django.urls import path

from shared.reviews.api import views

urlpatterns = [
    path("reviews/", views.ReviewListApi.as_view(), name="review-list"),
    path("reviews/overdue/", views.ReviewOverdueApi.as_view(), name="review-overdue"),
    # `str`, not `uuid`: a malformed id answers this view's 404 in the one error shape.
    path("reviews/<str:review_id>/", views.ReviewDetailApi.as_view(), name="review-detail"),
    path("reviews/<str:review_id>/answer/", views.ReviewAnswerApi.as_view(), name="review-answer"),
    path(
        "reviews/<str:review_id>/attachments/<str:attachment_id>/",
        views.ReviewAttachmentApi.as_view(),
        name="review-attachment",
    ),
]
