import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite("Configuration")
struct ConfigTests {
    @Test("defaults match the reference backend")
    func defaults() throws {
        let config = try AppConfig(environment: [:])
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8000)
        #expect(config.databasePath == "./ai_chat.db")
        #expect(config.jwtSecret == nil)
        #expect(config.accessTokenExpireMinutes == 60)
        #expect(config.logLevel == .info)
        #expect(config.groqAPIKey == nil)
        #expect(config.groqBaseURL == "https://api.groq.com/openai/v1")
        #expect(config.groqModel == "openai/gpt-oss-20b")
        // Not in the reference backend: twice this machine's cores, plus one, at most 20 (see AppConfig).
        #expect(config.databaseMaxConnections == min(2 * System.coreCount + 1, 20))
        #expect(config.databaseWaitSeconds == 5)
    }

    @Test("variables are read and normalised")
    func reading() throws {
        let config = try AppConfig(environment: [
            "HOST": "0.0.0.0", "PORT": "9000", "DATABASE_URL": "sqlite:////var/lib/chat/chat.db",
            "JWT_SECRET_KEY": String(repeating: "k", count: 40), "ACCESS_TOKEN_EXPIRE_MINUTES": "15",
            "ADMIN_EMAILS": " Root@Example.com, ops@example.com ,", "LOG_LEVEL": "DEBUG", "GROQ_API_KEY": "gsk_test",
            "GROQ_BASE_URL": "http://127.0.0.1:9999/openai/v1/", "GROQ_MODEL": "llama-3.3-70b-versatile",
            "DATABASE_MAX_CONNECTIONS": "40", "DATABASE_WAIT_SECONDS": "12", "REGISTRATIONS_PER_MINUTE_TOTAL": "0",
            "MAX_CONNECTIONS_PER_ADDRESS": "64",
        ])
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 9000)
        #expect(config.databasePath == "/var/lib/chat/chat.db")
        #expect(config.accessTokenExpireMinutes == 15)
        #expect(config.adminEmails == ["root@example.com", "ops@example.com"])
        #expect(config.logLevel == .debug)
        #expect(config.groqAPIKey == "gsk_test")
        #expect(config.groqBaseURL == "http://127.0.0.1:9999/openai/v1")
        #expect(config.groqModel == "llama-3.3-70b-versatile")
        #expect(config.databaseMaxConnections == 40)
        #expect(config.databaseWaitSeconds == 12)
        #expect(config.registrationsPerMinuteTotal == 0)
        #expect(config.maxConnectionsPerAddress == 64)
    }

    @Test("DATABASE_URL accepts sqlite URLs and plain paths")
    func databaseURL() throws {
        #expect(try AppConfig.databasePath(fromURL: "sqlite:///./ai_chat.db") == "./ai_chat.db")
        #expect(try AppConfig.databasePath(fromURL: "sqlite:///data/chat.db") == "data/chat.db")
        #expect(try AppConfig.databasePath(fromURL: "sqlite:////tmp/chat.db") == "/tmp/chat.db")
        #expect(try AppConfig.databasePath(fromURL: "/srv/chat.db") == "/srv/chat.db")
        #expect(throws: ConfigurationError.self) { try AppConfig.databasePath(fromURL: "postgresql://localhost/chat") }
    }

    @Test(
        "a bad value names its variable",
        arguments: [
            ("PORT", "eighty"), ("PORT", "70000"), ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"), ("LOG_LEVEL", "loud"),
            ("JWT_SECRET_KEY", "short"), ("ADMIN_EMAILS", "root"), ("GROQ_BASE_URL", "ftp://x"),
            ("DATABASE_URL", "mysql://db"), ("PASSWORD_HASH_COST", "4"), ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_WAIT_SECONDS", "0"), ("DATABASE_WAIT_SECONDS", "301"), ("REGISTRATIONS_PER_MINUTE_TOTAL", "-1"),
            ("MAX_CONNECTIONS_PER_ADDRESS", "many"),
        ]
    )
    func badValues(variable: String, value: String) {
        #expect {
            _ = try AppConfig(environment: [variable: value])
        } throws: { error in
            (error as? ConfigurationError)?.variable == variable
                && "\(error)".hasPrefix("invalid \(variable):")
        }
    }

    @Test(".env files: comments, export, quotes and inline comments")
    func dotEnv() {
        let parsed = DotEnv.parse(
            """
            # a comment
            PORT=9001
            export HOST=0.0.0.0
            GROQ_MODEL="llama \\"quoted\\"" # trailing
            JWT_SECRET_KEY='single # not a comment'
            LOG_LEVEL=debug # inline comment
            EMPTY=
            not a line
            """
        )
        #expect(parsed["PORT"] == "9001")
        #expect(parsed["HOST"] == "0.0.0.0")
        #expect(parsed["GROQ_MODEL"] == "llama \"quoted\"")
        #expect(parsed["JWT_SECRET_KEY"] == "single # not a comment")
        #expect(parsed["LOG_LEVEL"] == "debug")
        #expect(parsed["EMPTY"] == "")
        #expect(parsed.count == 6)
    }
}
