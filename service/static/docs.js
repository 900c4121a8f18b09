/* Starts Swagger UI on /docs. It lives in a file because the page's Content-Security-Policy
   runs no inline script; the validator badge is off because it would call an outside host. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    validatorUrl: null,
    showExtensions: true,
    showCommonExtensions: true
  });
})();
