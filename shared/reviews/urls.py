"""The holder portal's review pages, at the site root under /holder/ (beside the access app's)."""

from django.urls import path

from shared.reviews import portal_views

urlpatterns = [
    path("holder/reviews/", portal_views.holder_reviews, name="holder-reviews"),
    path(
        "holder/licences/<str:identifier>/review/",
        portal_views.holder_review_new,
        name="holder-review-new",
    ),
]
