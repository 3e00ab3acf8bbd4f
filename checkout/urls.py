from django.urls import path

from . import views

urlpatterns = [
    path("buy/<slug:slug>/", views.order_buy, name="order-buy"),
    path("orders/<str:token>/", views.order_done, name="order-done"),
    path("orders/<str:token>/pay/", views.order_pay, name="order-pay"),
    path("orders/<str:token>/pay/demo/", views.order_pay_demo, name="order-pay-demo"),
    path("orders/<str:token>/again/", views.order_again, name="order-again"),
    path("orders/<str:token>/another/", views.order_another, name="order-another"),
]
