extension GroqClient {
    /// A non-streamed pass-through completion and the rate-limit headers that came with it.
    public func complete(_ request: PassThroughRequest) async throws -> (PassThroughCompletion, RateLimitInfo) {
        var request = request
        request.stream = false
        let (body, info) = try await self.send(self.completionRequest(body: request.jsonBody(), streaming: false))
        guard let decoded = PassThroughBody(WireJSON.parse(body)) else {
            throw ProviderError.malformedResponse("the completion is not valid JSON")
        }
        guard let choice = decoded.choices.first, case .object = choice.message else {
            throw ProviderError.malformedResponse("the completion has no message")
        }
        return (
            PassThroughCompletion(
                message: choice.message, finishReason: choice.finishReason, usage: decoded.usage, model: decoded.model),
            info
        )
    }

    /// A streamed pass-through completion: resumes when the response head arrives (after checking the status),
    /// then yields each chunk's choices and one `.finished`.
    public func stream(_ request: PassThroughRequest) async throws -> (RateLimitInfo, PassThroughEventSequence) {
        var request = request
        request.stream = true
        let (info, body) = try await self.openStream(body: request.jsonBody())
        return (info, PassThroughEventSequence(bytes: body, redact: self.redact, chunks: PassThroughChunkReader()))
    }

    /// A completion as the upstream sends it, with the types and optionality of OpenAI's wire format (`choices`
    /// and each choice's `message` required); nil when it is not valid JSON or a member has another type.
    struct PassThroughBody {
        struct Choice {
            let message: WireJSON
            let finishReason: String?
        }
        let model: String?
        let choices: [Choice]
        let usage: TokenUsage?

        init?(_ json: WireJSON?) {
            guard let json, case .array(let choices)? = json.present("choices") else { return nil }
            do throws(WireJSON.Mismatch) {
                self.model = try json.string("model")
                self.usage = try json.tokenUsage("usage")
                self.choices = try choices.map { choice throws(WireJSON.Mismatch) in
                    guard let message = choice["message"] else { throw WireJSON.Mismatch() }
                    return Choice(message: message, finishReason: try choice.string("finish_reason"))
                }
            } catch {
                return nil
            }
        }
    }
}

/// The events of a streamed pass-through completion: each chunk's choices as sent, then one
/// ``PassThroughEvent/finished(usage:model:)`` (see ``UpstreamEventSequence``).
public typealias PassThroughEventSequence = UpstreamEventSequence<PassThroughChunkReader>

/// What the door makes of the upstream's chunks: each payload becomes at most one event, its choices as sent;
/// the usage and model are kept for the finished event.
public struct PassThroughChunkReader: UpstreamChunkReader {
    var usage: TokenUsage?
    var model: String?

    public mutating func read(
        _ payload: String, redact: (String) -> String, into events: inout [PassThroughEvent]
    ) throws {
        let chunk = try Chunk.accepted(Chunk(WireJSON.parse(payload.utf8)), redact: redact)
        if let model = chunk.model { self.model = model }
        if let usage = chunk.usage ?? chunk.xGroqUsage { self.usage = usage }
        if let choices = chunk.choices, !choices.isEmpty { events.append(.choices(choices)) }
    }

    public func finished() -> PassThroughEvent {
        .finished(usage: self.usage, model: self.model)
    }

    /// A chunk as Groq sends it: usage in `usage` (with `stream_options.include_usage`) or `x_groq.usage`; nil
    /// when it is not a JSON object or a member has another type.
    struct Chunk: UpstreamChunk {
        let model: String?
        let choices: [WireJSON]?
        let usage: TokenUsage?
        let xGroqUsage: TokenUsage?
        let errorMessage: String?

        init?(_ json: WireJSON?) {
            guard let json, case .object = json else { return nil }
            do throws(WireJSON.Mismatch) {
                self.model = try json.string("model")
                self.choices = try json.array("choices")
                self.usage = try json.tokenUsage("usage")
                self.xGroqUsage = try json.object("x_groq")?.tokenUsage("usage")
                if let error = try json.object("error") {
                    guard let message = try error.string("message") else { return nil }
                    self.errorMessage = message
                } else {
                    self.errorMessage = nil
                }
            } catch {
                return nil
            }
        }
    }
}
