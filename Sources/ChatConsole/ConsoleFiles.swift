/// The web console's static files (Sources/ChatConsole/Console), embedded in the binary by SwiftPM
/// (`.embedInCode`): no file is read at run time and nothing is installed beside the executable.
public enum ConsoleFiles {
    /// The page served at `GET /app`. `{{version}}` in it stands for the assets' version (see `ConsoleAssets`).
    public static let page: [UInt8] = PackageResources.app_html

    /// Every other file by name, served at `GET /app/<version>/<name>` (scripts are ES modules that import
    /// each other by relative path, so they resolve under the same version).
    public static let assets: [(name: String, bytes: [UInt8])] = [
        ("console.css", PackageResources.console_css),
        ("console.js", PackageResources.console_js),
        ("api.js", PackageResources.api_js),
        ("dom.js", PackageResources.dom_js),
        ("stream.js", PackageResources.stream_js),
        ("messages.js", PackageResources.messages_js),
        ("conversation.js", PackageResources.conversation_js),
        ("chats.js", PackageResources.chats_js),
        ("chart.js", PackageResources.chart_js),
        ("account.js", PackageResources.account_js),
        ("admin.js", PackageResources.admin_js),
    ]
}
