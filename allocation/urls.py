from django.urls import path

from payments import views as payment_views

from . import views

urlpatterns = [
    path("buy/<slug:slug>/", views.order_buy, name="order-buy"),
    path("orders/<str:token>/", views.order_done, name="order-done"),
    path("orders/<str:token>/pay/", payment_views.order_pay, name="order-pay"),
    path("orders/<str:token>/pay/demo/", payment_views.order_pay_demo, name="order-pay-demo"),
]
