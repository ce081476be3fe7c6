// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ai-chat-backend",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chat-server", targets: ["ChatServerCLI"]),
        .executable(name: "mock-groq", targets: ["MockGroqCLI"]),
        .executable(name: "chat-bench", targets: ["ChatBench"]),
        .executable(name: "bare-route", targets: ["BareRoute"]),
        .library(name: "ChatServer", targets: ["ChatServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C libraries from the system (see Makefile `deps`).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // glibc's allocator statistics and malloc_trim (MemoryTrimService).
        .systemLibrary(name: "CMalloc"),

        // Storage: the ChatStore protocol every engine implements, and the records it speaks in.
        .target(
            name: "ChatStorage",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded engine: the DatabaseActor and the SQLite layer under it.
        .target(
            name: "ChatStorageSQLite",
            dependencies: [
                "ChatStorage",
                "CSQLite",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Crypto and auth primitives: random bytes, HMAC-SHA256, JWT, scrypt password hashing.
        .target(
            name: "ChatAuth",
            dependencies: [
                "CCrypto",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The AI provider: libcurl client, Groq wire format, rate limits and retries.
        .target(
            name: "ChatProvider",
            dependencies: [
                "CCurl",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The turn machinery: one session per chat (order, fan-out, long-poll waits), titles, quotas and accounting.
        // Between storage/provider and HTTP: it knows no HTTP and no AppConfig (its settings are `TurnSettings`).
        .target(
            name: "ChatTurns",
            dependencies: [
                "ChatStorage",
                "ChatProvider",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Swagger UI and ReDoc for /docs and /redoc, compiled into the binary (assets/ and its VERSIONS: the files
        // from PyPI's drf-spectacular-sidecar, refreshed by `make docs-assets`), so the pages work offline.
        .target(name: "CDocsAssets", exclude: ["assets"]),
        // The web console's static files (HTML, CSS, JavaScript), embedded in the binary; served at /app.
        .target(
            name: "ChatConsole",
            resources: [.embedInCode("Console")],
            swiftSettings: swiftSettings
        ),
        // The HTTP application: configuration, controllers, middleware, OpenAPI. It speaks `ChatStore` and
        // names no engine: ChatComposition hands it the store.
        .target(
            name: "ChatServer",
            dependencies: [
                "CDocsAssets",
                "CMalloc",
                "ChatConsole",
                "ChatStorage",
                "ChatAuth",
                "ChatProvider",
                "ChatTurns",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                // NIOThreadPool: an import's file is parsed there, off the cooperative pool.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The engine for several replicas: PostgreSQL through postgres-nio's connection pool.
        .target(
            name: "ChatStoragePostgres",
            dependencies: [
                "ChatStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // For `ConnectionPoolError`, which the pool throws once it has given up opening connections.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: opens the engine the configuration selects and hands it to the HTTP application
        // (`StoreOpener`, `ChatBackend.open`). The one target that depends on both engines and on ChatServer.
        .target(
            name: "ChatComposition",
            dependencies: [
                "ChatServer",
                "ChatStorage",
                "ChatStorageSQLite",
                "ChatStoragePostgres",
                "ChatTurns",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A Groq-compatible mock upstream for tests, the benchmark and `make demo`.
        .target(
            name: "MockGroq",
            dependencies: [
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "MockGroqCLI",
            dependencies: [
                "MockGroq",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ChatServerCLI",
            dependencies: [
                "ChatComposition",
                "ChatServer",
                "ChatStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // chat-bench: the benchmark executable (docs/performance.md).
        .executableTarget(
            name: "ChatBench",
            dependencies: [
                "ChatComposition",
                "ChatServer",
                "ChatStorage",
                "ChatStorageSQLite",
                "MockGroq",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/ChatBench",
            swiftSettings: swiftSettings
        ),
        // bare-route: one Hummingbird route without middleware, the floor Benchmarks/wrk/read-path compares with.
        .executableTarget(
            name: "BareRoute",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/BareRoute",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChatServerTests",
            dependencies: [
                "ChatBench",
                "ChatComposition",
                "ChatServer",
                "ChatStorage",
                "ChatStorageSQLite",
                "ChatStoragePostgres",
                "ChatAuth",
                "ChatProvider",
                "ChatTurns",
                "MockGroq",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
