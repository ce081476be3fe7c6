import ChatAuth
import ChatComposition
import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Auth endpoints")
struct AuthAPITests {
    @Test("register answers 201 with the user, never the hash")
    func register() async throws {
        try await withApp { client, _ in
            let response = try await client.send(
                .post,
                "/auth/register",
                json: #"{"email": " Alice@Example.COM ", "password": "correct horse battery"}"#
            )
            #expect(response.status == .created)
            let body = try JSONBody(response)
            #expect(body.string("email") == "alice@example.com")
            #expect(body.string("role") == "user")
            #expect(UUID(uuidString: body.string("id") ?? "") != nil)
            #expect(body.string("created_at")?.hasSuffix("Z") == true)
            #expect(Set(body.object.keys) == ["id", "email", "role", "created_at", "disabled"])
        }
    }

    @Test("register refuses an email that exists in any case with 409")
    func duplicateEmail() async throws {
        try await withApp { client, _ in
            try await client.register("bob@example.com")
            let response = try await client.send(
                .post,
                "/auth/register",
                json: #"{"email": "BOB@example.com", "password": "another password"}"#
            )
            #expect(response.status == .conflict)
            #expect(response.detail == "Email already registered")
        }
    }

    @Test(
        "register validates its body with 422",
        arguments: [
            (#"{"email": "not-an-email", "password": "long enough"}"#, ["body.email"]),
            (#"{"email": "a@example.com", "password": "short"}"#, ["body.password"]),
            (#"{"email": "a@example.com"}"#, ["body.password"]),
            (#"{"password": "long enough"}"#, ["body.email"]),
            (#"{"email": 42, "password": "long enough"}"#, ["body.email"]),
            (#"{"email": "x@@", "password": "1"}"#, ["body.email", "body.password"]),
            ("{nope", ["body"]),
            ("", ["body"]),
            ("[]", ["body"]),
        ]
    )
    func registerValidation(body: String, locations: [String]) async throws {
        try await withApp { client, _ in
            let response = try await client.send(.post, "/auth/register", json: body)
            #expect(response.status == .unprocessableContent, "\(response.text)")
            #expect(response.validationLocations == locations, "\(response.text)")
        }
    }

    @Test("a 129-character password is refused")
    func passwordTooLong() async throws {
        try await withApp { client, _ in
            let password = String(repeating: "p", count: 129)
            let response = try await client.send(
                .post,
                "/auth/register",
                json: #"{"email": "long@example.com", "password": "\#(password)"}"#
            )
            #expect(response.status == .unprocessableContent)
            #expect(response.validationLocations == ["body.password"])
        }
    }

    @Test("login returns a bearer token; unknown email and wrong password give the same 401")
    func login() async throws {
        try await withApp { client, _ in
            try await client.register("carol@example.com")
            let ok = try await client.send(
                .post,
                "/auth/login",
                json: #"{"email": "CAROL@example.com", "password": "correct horse battery"}"#
            )
            #expect(ok.status == .ok)
            let body = try JSONBody(ok)
            #expect(body.string("token_type") == "bearer")
            #expect(body.int("expires_in") == 3600)
            #expect(body.string("access_token")?.split(separator: ".").count == 3)

            let wrong = try await client.send(
                .post,
                "/auth/login",
                json: #"{"email": "carol@example.com", "password": "wrong horse battery"}"#
            )
            let unknown = try await client.send(
                .post,
                "/auth/login",
                json: #"{"email": "nobody@example.com", "password": "correct horse battery"}"#
            )
            for response in [wrong, unknown] {
                #expect(response.status == .unauthorized)
                #expect(response.detail == "Invalid email or password")
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
        }
    }

    @Test("the OAuth2 password form issues the same token (Swagger's Authorize)")
    func tokenForm() async throws {
        try await withApp { client, _ in
            try await client.register("dave@example.com")
            let response = try await client.execute(
                uri: "/auth/token",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(
                    string: "grant_type=password&username=dave%40example.com&password=correct+horse+battery")
            )
            #expect(response.status == .ok, "\(response.text)")
            let token = try #require(try JSONBody(response).string("access_token"))
            let me = try await client.send(.get, "/auth/me", token: token)
            #expect(try JSONBody(me).string("email") == "dave@example.com")

            let wrong = try await client.execute(
                uri: "/auth/token",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "username=dave%40example.com&password=nope")
            )
            #expect(wrong.status == .unauthorized)
            let missing = try await client.execute(
                uri: "/auth/token",
                method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "username=dave%40example.com")
            )
            #expect(missing.status == .unprocessableContent)
            #expect(missing.validationLocations == ["body.password"])
        }
    }

    @Test("GET /auth/me returns the token's user")
    func me() async throws {
        try await withApp { client, _ in
            let (id, token) = try await client.signUp("erin@example.com")
            let response = try await client.send(.get, "/auth/me", token: token)
            #expect(response.status == .ok)
            #expect(try JSONBody(response).string("id") == id)
        }
    }

    @Test("logout revokes every token of the user, and a new login works")
    func logoutRevokes() async throws {
        try await withApp { client, _ in
            let (_, first) = try await client.signUp("frank@example.com")
            let second = try await client.login("frank@example.com")
            let logout = try await client.send(.post, "/auth/logout", token: first)
            #expect(logout.status == .ok)
            for token in [first, second] {
                let response = try await client.send(.get, "/auth/me", token: token)
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            let fresh = try await client.login("frank@example.com")
            #expect(try await client.send(.get, "/auth/me", token: fresh).status == .ok)
        }
    }

    @Test("missing, malformed, tampered, expired and foreign tokens are 401 with WWW-Authenticate")
    func badTokens() async throws {
        try await withApp { client, backend in
            let (id, token) = try await client.signUp("grace@example.com")
            let userID = try #require(UUID(uuidString: id))
            let user = try #require(try await backend.database.user(id: userID))
            let parts = token.split(separator: ".").map(String.init)
            let now = Timestamp.now().secondsSinceEpoch

            let noneHeader = Base64.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
            let editedPayload = Base64.encode(
                Array(#"{"exp":\#(now + 3600),"iat":\#(now),"sub":"\#(id)","ver":\#(user.tokenVersion + 1)}"#.utf8)
            )
            let expired = try backend.tokens.issue(for: user, now: now - 7200)
            let otherSecret = try TokenService(
                secret: Array(String(repeating: "z", count: 32).utf8), lifetimeMinutes: 60
            )
            .issue(for: user)
            let unknownUser = try backend.tokens.issue(
                for: UserRecord(
                    id: UUID(),
                    email: "ghost@example.com",
                    passwordHash: "",
                    role: .admin,
                    tokenVersion: 0,
                    createdAt: .now()
                )
            )
            let cases: [(String, HTTPFields)] = [
                ("no header", [:]),
                ("empty bearer", [.authorization: "Bearer "]),
                ("basic scheme", [.authorization: "Basic Z3JhY2U6cGFzcw=="]),
                ("garbage", [.authorization: "Bearer not.a.jwt"]),
                ("alg none", [.authorization: "Bearer \(noneHeader).\(parts[1])."]),
                ("edited payload", [.authorization: "Bearer \(parts[0]).\(editedPayload).\(parts[2])"]),
                ("expired", [.authorization: "Bearer \(expired)"]),
                ("wrong secret", [.authorization: "Bearer \(otherSecret)"]),
                ("unknown user", [.authorization: "Bearer \(unknownUser)"]),
            ]
            for (name, headers) in cases {
                let response = try await client.execute(uri: "/auth/me", method: .get, headers: headers)
                #expect(response.status == .unauthorized, "\(name)")
                #expect(response.headers[.wwwAuthenticate] == "Bearer", "\(name)")
                #expect(response.detail != nil, "\(name)")
            }
            // The genuine token still works, with a lower-case scheme too.
            let genuine = try await client.execute(
                uri: "/auth/me", method: .get, headers: [.authorization: "bearer \(token)"])
            #expect(genuine.status == .ok)
        }
    }

    @Test("the generated secret is persisted: tokens survive a restart")
    func persistedSecret() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let config = testConfig(directory: directory)
        let token: String
        do {
            let backend = try await ChatBackend.open(config: config, logger: testLogger())
            token = try await buildApplication(backend).test(.router) { client in
                try await client.signUp("henry@example.com").token
            }
            await backend.database.close()
        }
        let restarted = try await ChatBackend.open(config: config, logger: testLogger())
        // The test harness shuts the app's services (the database among them) down when the closure returns.
        let (status, secret) = try await buildApplication(restarted).test(.router) { client in
            (
                try await client.send(.get, "/auth/me", token: token).status,
                try await restarted.database.setting("jwt_secret")
            )
        }
        #expect(status == .ok)
        #expect((secret?.utf8.count ?? 0) >= 32)
    }

    @Test("passwords are stored as scrypt hashes, never in clear")
    func storedHash() async throws {
        try await withApp { client, backend in
            try await client.register("ivy@example.com", password: "my secret password")
            let user = try #require(try await backend.database.user(email: "ivy@example.com"))
            #expect(user.passwordHash.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
            #expect(!user.passwordHash.contains("my secret password"))
        }
    }

    @Test("a hash made with a lower cost is upgraded at the next login")
    func rehashOnLogin() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        var config = testConfig(directory: directory)
        let weak = try await ChatBackend.open(config: config, logger: testLogger())
        _ = try await buildApplication(weak).test(.router) { client in
            try await client.register("jack@example.com")
        }
        await weak.database.close()
        config.passwordHashCost = 11
        let stronger = try await ChatBackend.open(config: config, logger: testLogger())
        let hash = try await buildApplication(stronger).test(.router) { client in
            _ = try await client.login("jack@example.com")
            return try await stronger.database.user(email: "jack@example.com")?.passwordHash
        }
        #expect(hash?.hasPrefix("$scrypt$ln=11,") == true)
    }
}
