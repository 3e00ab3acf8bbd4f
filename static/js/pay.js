// Stripe Payment Element on our own page: the buyer never leaves the site. Stripe returns the
// buyer to the done page, which asks the server (and so Stripe) for the outcome.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret, locale: document.documentElement.lang });
  elements.create("payment").mount("#payment-element");
  const message = document.getElementById("payment-message");
  const button = document.getElementById("pay-button");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    const result = await stripe.confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } });
    if (result.error) {
      message.textContent = result.error.message;
      button.disabled = false;
    }
  });
})();
