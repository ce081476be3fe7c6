import Foundation
import Testing

@testable import ChatProvider

/// ``WireJSON`` read from bytes and written to bytes by hand (the door's hot path) against Foundation's
/// `JSONDecoder`/`JSONEncoder`, the oracle they replace.
@Suite("WireJSON without JSONDecoder and JSONEncoder")
struct WireJSONBytesTests {
    /// ``WireJSON``'s decoding as it was before strings and objects were tried first: the oracle for values and
    /// for the error a bad value fails with.
    struct EarlierOrder: Decodable, Equatable {
        let value: WireJSON

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self.value = .null
            } else if let value = try? container.decode(Bool.self) {
                self.value = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self.value = .integer(value)
            } else if let value = try? container.decode(Double.self) {
                self.value = .number(value)
            } else if let value = try? container.decode(String.self) {
                self.value = .string(value)
            } else if let value = try? container.decode([EarlierOrder].self) {
                self.value = .array(value.map(\.value))
            } else {
                self.value = .object(try container.decode([String: EarlierOrder].self).mapValues(\.value))
            }
        }
    }

    static let completion =
        #"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"llama-3.1-8b-instant","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\"\n\u00e9\ud83d\ude80","tool_calls":[{"id":"call_0","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"logprobs":null,"finish_reason":"stop"}],"usage":{"queue_time":0.021,"prompt_tokens":18,"completion_tokens":7,"total_tokens":25}}"#

    static let documents = [
        completion, UpstreamJSONTests.lastChunk,
        #"{"seed":9007199254740993,"t":0.25,"n":-0,"e":1E1,"x":12.0,"big":99999999999999999999,"s":2.5e-5}"#,
        #"[true,false,null,"",[],{},{"a":[{"b":[{"c":[true,false,null,-1.5e-3]}]}]}]"#,
        #" {"model":"first","model":"second"} "#, #"{"a":1,}"#, #"{"a":[1,]}"#, #""text""#, "7", "null",
        "", " ", "{", "{}", "{} {}", "{}x", #"{"a":}"#, #"{"a" 1}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.}"#,
        #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":+1}"#, #"{"a":1e400}"#, #"{"a":tru}"#, #"{"a":nul}"#, #"{'a':1}"#,
        #"{"a":"\x"}"#, #"{"a":"\ud83d"}"#, "{\"a\":\"tab\there\"}", #"{"a":"unterminated}"#, #"{"q":--1}"#,
        #"[{"role":"user","content":[{"type":"text","0":1e400}]}]"#, #"{"m":[{"x":{"y":[1,2,{"z":1e999}]}}]}"#,
        #"{"0":{"x":1e400}}"#, #"{"model":"m","7":{"1":"x","2":{"b":tru}}}"#,
    ]

    /// nil when ``WireJSON/parse(_:)`` reads `text` as `JSONDecoder` does, else what differs.
    static func agree(_ text: String) -> Comment? {
        let oracle = try? JSONDecoder().decode(EarlierOrder.self, from: Data(text.utf8)).value
        let parsed = WireJSON.parse(text.utf8)
        guard oracle == parsed else {
            return "\(text): JSONDecoder \(String(describing: oracle)), parse \(String(describing: parsed))"
        }
        return nil
    }

    @Test("parse reads every document, good or bad, as JSONDecoder reads it")
    func parseAgrees() {
        for document in Self.documents {
            if let difference = Self.agree(document) { Issue.record(difference) }
        }
    }

    @Test("every one-byte cut, change and insertion of a completion parses as JSONDecoder reads it")
    func mutationsAgree() {
        let bytes = Array(Self.completion.utf8)
        var disagreements: [Comment] = []
        for index in bytes.indices {
            var cut = bytes
            cut.remove(at: index)
            var variants = [cut]
            for byte in [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "1"), UInt8(ascii: ","), 0x0A] {
                var changed = bytes
                changed[index] = byte
                var inserted = bytes
                inserted.insert(byte, at: index)
                variants += [changed, inserted]
            }
            for variant in variants {
                if let difference = Self.agree(String(decoding: variant, as: UTF8.self)) {
                    disagreements.append(difference)
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    @Test("decoding tries strings and objects first, with the same values and the same errors as before")
    func decodingOrderKeepsValuesAndErrors() throws {
        for document in Self.documents {
            let data = Data(document.utf8)
            switch (
                Result { try JSONDecoder().decode(WireJSON.self, from: data) },
                Result { try JSONDecoder().decode(EarlierOrder.self, from: data).value }
            )
            {
            case (.success(let now), .success(let before)): #expect(now == before, "\(document)")
            case (.failure(let now), .failure(let before)):
                #expect(Self.describe(now) == Self.describe(before), "\(document)")
            default: Issue.record("\(document): decoded now or before, not both")
            }
        }
    }

    /// What a request's 400 is made of (``ValidationIssue``): the kind of error, its path (each key's name and
    /// index) and its text.
    static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { "\($0.stringValue)#\($0.intValue.map(String.init) ?? "-")" }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return "missing \(path(context.codingPath + [key]))"
        case .valueNotFound(let type, let context)?: return "null \(type) \(path(context.codingPath))"
        case .typeMismatch(let type, let context)?:
            return "type \(type) \(path(context.codingPath)) \(context.debugDescription)"
        case .dataCorrupted(let context)?: return "corrupt \(path(context.codingPath)) \(context.debugDescription)"
        default: return "\(error)"
        }
    }

    @Test("written bytes read back as the same value, numbers as JSONEncoder writes them, keys sorted")
    func writeRoundTrips() throws {
        for document in Self.documents {
            guard let value = WireJSON.parse(document.utf8) else { continue }
            let written = value.jsonBytes
            #expect(try JSONDecoder().decode(WireJSON.self, from: Data(written)) == value, "\(document)")
            #expect(WireJSON.parse(written) == value)
        }
        let encoder = JSONEncoder()
        for number in [0.25, 1e-7, 1e20, 0.1 + 0.2, 2.5e-5, 1.7976931348623157e308, 123_456_789_012_345_678.0, 3.0] {
            let expected = String(decoding: try encoder.encode([number]), as: UTF8.self)
            #expect(String(decoding: WireJSON.array([.number(number)]).jsonBytes, as: UTF8.self) == expected)
        }
        let object: WireJSON = .object(["b": .integer(1), "a": .string("x/\"y\"\n"), "c": .null])
        #expect(String(decoding: object.jsonBytes, as: UTF8.self) == #"{"a":"x/\"y\"\n","b":1,"c":null}"#)
    }

    @Test("nesting deeper than the limit is refused, not followed down the stack")
    func depthLimit() {
        let deep =
            String(repeating: "[", count: UpstreamJSON.maximumDepth)
            + String(repeating: "]", count: UpstreamJSON.maximumDepth)
        #expect(WireJSON.parse(deep.utf8) != nil)
        #expect(WireJSON.parse(("[" + deep + "]").utf8) == nil)
        #expect(WireJSON.parse(String(repeating: "[", count: 100_000).utf8) == nil)
    }
}
