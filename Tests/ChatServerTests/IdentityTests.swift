import ChatAuth
import ChatServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// One person, one account: emails and passwords that look the same are the same; tokens have one spelling.
@Suite("Identity normalisation")
struct IdentityTests {
    @Test("an email in NFD is the same account as in NFC; invisible characters are refused")
    func emails() async throws {
        try await withApp { client, _ in
            let composed = "jos\u{E9}@example.com"
            let decomposed = "jose\u{301}@example.com"
            #expect(composed.utf8.count != decomposed.utf8.count)
            try await client.register(composed)
            let again = try await client.send(
                .post, "/auth/register", json: #"{"email": "\#(decomposed)", "password": "correct horse battery"}"#)
            #expect(again.status == .conflict)
            // Login with the other spelling finds the account.
            _ = try await client.login(decomposed)
            for invisible in ["\u{200B}", "\u{AD}", "\u{200D}", "\u{FEFF}", "\u{202E}", "\u{7}"] {
                let email = "ja\(invisible)ne@example.com"
                let response = try await client.send(
                    .post, "/auth/register",
                    json:
                        "{\"email\": \"\(email.unicodeScalars.map { $0.value < 0x20 || $0.value > 0x7E ? String(format: "\\u%04x", $0.value) : String($0) }.joined())\", \"password\": \"correct horse battery\"}"
                )
                #expect(
                    response.status == .unprocessableContent,
                    "U+\(String(invisible.unicodeScalars.first!.value, radix: 16))")
                #expect(response.validationLocations == ["body.email"])
            }
        }
    }

    /// Every kind of blank: spaces of each width (Zs), line and paragraph separators (Zl, Zp), format
    /// characters (Cf), and the blanks that are letters or symbols by category.
    static let blanks: [Unicode.Scalar] = [
        "\u{20}", "\u{A0}", "\u{1680}", "\u{2000}", "\u{2002}", "\u{2007}", "\u{200A}", "\u{202F}", "\u{205F}",
        "\u{3000}", "\u{2028}", "\u{2029}", "\u{180E}", "\u{200B}", "\u{2060}", "\u{FEFF}", "\u{E0020}",
        "\u{2800}", "\u{3164}", "\u{115F}", "\u{1160}", "\u{FFA0}", "\u{85}", "\u{0}",
    ]

    @Test("an email with a space or blank of any kind is 422 on register, login and token", arguments: blanks)
    func blankInEmail(_ blank: Unicode.Scalar) async throws {
        try await withApp { client, _ in
            // The blank as a JSON escape (a supplementary-plane one as its surrogate pair) and as a form value.
            let escaped = String(blank).utf16.map { String(format: "\\u%04x", $0) }.joined()
            let email = "sp\(escaped)ace@example.com"
            let register = try await client.send(
                .post, "/auth/register", json: #"{"email": "\#(email)", "password": "correct horse battery"}"#)
            #expect(register.status == .unprocessableContent, "\(register.text)")
            #expect(register.validationLocations == ["body.email"])
            let login = try await client.send(.post, "/auth/login", json: #"{"email": "\#(email)", "password": "x"}"#)
            #expect(login.status == .unprocessableContent, "\(login.text)")
            #expect(login.validationLocations == ["body.email"])
            let encoded = try #require(
                "sp\(String(blank))ace@example.com".addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            let token = try await client.execute(
                uri: "/auth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "username=\(encoded)&password=x"))
            #expect(token.status == .unprocessableContent, "\(token.text)")
            #expect(token.validationLocations == ["body.username"])
        }
    }

    @Test("a password typed in NFD logs in to an account registered in NFC, and the reverse")
    func passwords() async throws {
        try await withApp { client, _ in
            let nfc = "caf\u{E9} cr\u{E8}me br\u{FB}l\u{E9}e"
            let nfd = nfc.decomposedStringWithCanonicalMapping
            #expect(nfc.utf8.count != nfd.utf8.count)
            try await client.register("first@example.com", password: nfc)
            _ = try await client.login("first@example.com", password: nfd)
            try await client.register("second@example.com", password: nfd)
            _ = try await client.login("second@example.com", password: nfc)
        }
    }

    @Test("a token with = padding appended (or any non-canonical base64) is refused")
    func canonicalTokens() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("pad@example.com")
            #expect(try await client.send(.get, "/auth/me", token: token).status == .ok)
            for variant in [token + "=", token + "==", token.replacingOccurrences(of: ".", with: "=.")] {
                #expect(try await client.send(.get, "/auth/me", token: variant).status == .unauthorized, "\(variant)")
            }
            #expect(Base64.decode("QQ==") == nil)
            #expect(Base64.decode("QQ") == [0x41])
        }
    }
}
