/// The HTML pages that render the OpenAPI document in a browser: Swagger UI and ReDoc, with every file they load
/// served by this server (`DocsAssets`), so they work without internet access.
enum DocsPages {
    /// The Content-Security-Policy of both pages: nothing from another origin and no inline script. Inline
    /// styles stay allowed (both libraries set style attributes, and ReDoc writes its styles into the page); ReDoc
    /// runs its search index in a worker it creates from a blob: URL.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        + "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; "
        + "form-action 'self'; frame-ancestors 'none'"

    /// Starts Swagger UI (served as /docs/assets/swagger-init.js). Its Authorize button uses the document's OAuth2
    /// password flow: the email and password are posted to /auth/token, and the token kept across reloads. No
    /// validator: Swagger UI's default sends the document's URL to validator.swagger.io for a badge.
    static let swaggerInitScript = """
        window.ui = SwaggerUIBundle({
            url: "/openapi.json",
            dom_id: "#swagger-ui",
            layout: "BaseLayout",
            deepLinking: true,
            persistAuthorization: true,
            validatorUrl: null,
            presets: [SwaggerUIBundle.presets.apis]
        });

        """

    static func swaggerUI(title: String, assets: DocsAssets) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(title) - Swagger UI</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" type="image/png" href="\(assets.url("favicon-32x32.png"))">
        <link rel="stylesheet" href="\(assets.url("swagger-ui.css"))">
        </head>
        <body>
        <div id="swagger-ui"></div>
        <script src="\(assets.url("swagger-ui-bundle.js"))"></script>
        <script src="\(assets.url(DocsAssets.swaggerInit))"></script>
        </body>
        </html>
        """
    }

    static func redoc(title: String, assets: DocsAssets) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(title) - ReDoc</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" type="image/png" href="\(assets.url("favicon-32x32.png"))">
        </head>
        <body>
        <redoc spec-url="/openapi.json"></redoc>
        <script src="\(assets.url("redoc.standalone.js"))"></script>
        </body>
        </html>
        """
    }
}
