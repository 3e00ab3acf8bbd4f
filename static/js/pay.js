// Stripe Payment Element on our own page. The PaymentIntent offers every way to pay turned on in
// the Stripe dashboard that fits the campaign's currency (STRIPE_AUTOMATIC_PAYMENT_METHODS): the
// element shows cards, and Apple Pay, Google Pay and Link where the buyer's device and browser
// offer them. Whatever the way, Stripe then sends the buyer to the done page (return_url; a bank
// or wallet that redirects comes back there too, with ?payment_intent=...&redirect_status=...),
// which asks the server (and so Stripe) for the outcome.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret, locale: document.documentElement.lang });
  const message = document.getElementById("payment-message");
  const button = document.getElementById("pay-button");
  const paymentElement = elements.create("payment", {
    layout: { type: "tabs" },
    // "auto": each wallet shows where the device has it, the domain is registered with Stripe
    // and the page is served over HTTPS.
    wallets: { applePay: "auto", googlePay: "auto", link: "auto" },
  });
  paymentElement.mount("#payment-element");
  paymentElement.on("loaderror", function (event) {
    message.textContent = event.error && event.error.message ? event.error.message : message.dataset.loadError;
  });
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    // Redirects always: the done page is where every way to pay ends, as it asks the server.
    const result = await stripe.confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } });
    if (result.error) {
      message.textContent = result.error.message || message.dataset.confirmError;
      button.disabled = false;
    }
  });
})();
