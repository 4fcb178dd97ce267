// Starts Swagger UI for /docs from local files (no CDN, no inline script: CSP allows 'self').
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    // Deep links put a link inside each operation's expand button (nested controls, which
    // screen readers cannot reach): off.
    deepLinking: false,
    persistAuthorization: false,
    oauth2RedirectUrl: window.location.origin + "/static/vendor/swagger-ui/oauth2-redirect.html",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    // Swagger UI would otherwise send the API description's address to validator.swagger.io
    // (it skips that only on localhost): nothing leaves the app.
    validatorUrl: null,
  });
});
