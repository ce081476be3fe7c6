import ChatAuth
import ChatStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import ChatServer

@Suite("Hot-path replacements agree with Foundation")
struct FastPathTests {
    @Test("JSONWriter output parses back to the same values, with every escape")
    func jsonWriter() throws {
        let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} ünïcødé 🚀 </script>"
        var writer = JSONWriter()
        writer.object { json in
            json.field("text", tricky)
            json.field("none", nil as String?)
            json.field("number", 42)
            json.key("list")
            json.array([1, 2, 3]) { json, value in json.value(value) }
            json.key("nested")
            json.object { json in json.field("empty", "") }
        }
        let parsed = try #require(
            try JSONSerialization.jsonObject(with: Data(writer.buffer.readableBytesView)) as? [String: Any]
        )
        #expect(parsed["text"] as? String == tricky)
        #expect(parsed["none"] is NSNull)
        #expect(parsed["number"] as? Int == 42)
        #expect(parsed["list"] as? [Int] == [1, 2, 3])
        #expect((parsed["nested"] as? [String: Any])?["empty"] as? String == "")
    }

    @Test("UUID formatting and parsing match Foundation")
    func uuids() {
        for _ in 0..<500 {
            let id = UUID()
            #expect(id.lowercasedString == id.uuidString.lowercased())
            #expect(UUID(canonical: id.uuidString) == id)
            #expect(UUID(canonical: id.lowercasedString) == id)
            #expect(UUID(canonical: "x:\(id.uuidString):y".dropFirst(2).dropLast(2)) == id)
        }
        for bad in [
            "", "not-a-uuid", "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-4266141740000",
            "123e4567xe89b-12d3-a456-426614174000", "g23e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400G", "123e45670e89b-12d3-a456-42661417400",
            "123e4567-e89b-12d3-a4560426614174000", "{23e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-4266141740é",
        ] {
            #expect(UUID(canonical: bad) == nil, "\(bad)")
            #expect(UUID(canonical: Substring(bad)) == nil, "\(bad)")
        }
    }

    @Test("a cached token still expires")
    func cachedTokenExpires() throws {
        let tokens = TokenService(secret: Array(String(repeating: "s", count: 32).utf8), lifetimeMinutes: 1)
        let user = UserRecord(
            id: UUID(),
            email: "c@example.com",
            passwordHash: "",
            role: .user,
            tokenVersion: 0,
            createdAt: .now()
        )
        let token = try tokens.issue(for: user, now: 1_000)
        #expect(!tokens.isCached(token))
        #expect(try tokens.verify(token, now: 1_010).sub == user.id.lowercasedString)
        // Verified once: the next verification is served by the cache, and still checks the expiry.
        #expect(tokens.isCached(token))
        #expect(try tokens.verify(token, now: 1_020).sub == user.id.lowercasedString)
        #expect(throws: TokenError.expired) { try tokens.verify(token, now: 1_060) }
        #expect(throws: TokenError.badSignature) { try tokens.verify(token + "x", now: 1_010) }
        #expect(!tokens.isCached(token + "x"))
    }

    @Test("authentication reads the user from the cache, which every change to the user empties")
    func userCache() async throws {
        try await withApp { client, backend in
            let (id, token) = try await client.signUp("cached@example.com")
            let userID = try #require(UUID(uuidString: id))
            #expect(try await client.send(.get, "/auth/me", token: token).status == .ok)
            let cached = try #require(backend.database.userCache.user(id: userID))
            #expect(cached.email == "cached@example.com")
            // Logout bumps the token version: the entry goes at once, and the old token is refused.
            #expect(try await client.send(.post, "/auth/logout", token: token).status == .ok)
            #expect(backend.database.userCache.user(id: userID) == nil)
            #expect(try await client.send(.get, "/auth/me", token: token).status == .unauthorized)
            // A new login reads the user again (how long an entry lasts: UserCacheTests.entriesRunOut).
            let fresh = try await client.login("cached@example.com")
            #expect(try await client.send(.get, "/auth/me", token: fresh).status == .ok)
            #expect(backend.database.userCache.user(id: userID) != nil)
        }
    }
}
