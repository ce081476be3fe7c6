/// How the mock answers. Change it at run time with `PUT /mock/behavior` or ``MockGroqServer/setBehavior(_:)``.
public struct MockGroqBehavior: Codable, Sendable, Equatable {
    /// Something going wrong on purpose.
    public enum Fault: String, Codable, Sendable, CaseIterable {
        /// 429 with `retry-after`.
        case rateLimit = "rate_limit"
        /// 500 with an OpenAI-style error body.
        case serverError = "server_error"
        /// 401 invalid API key.
        case unauthorized
        /// Accept the request and never answer.
        case hang
        /// Send a few stream chunks, then close the connection without finishing.
        case dropMidStream = "drop_mid_stream"
        /// 200 with a body that is not JSON (or a stream event that is not).
        case malformedJSON = "malformed_json"
        /// A stream that ends cleanly but never sends `data: [DONE]`.
        case noDone = "no_done"
        /// A stream whose second event carries an `error` object.
        case streamError = "stream_error"
    }

    /// Delay before the response head (and so before the first token).
    public var latencyMilliseconds: Int
    /// Delay between stream chunks.
    public var chunkDelayMilliseconds: Int
    public var fault: Fault?
    /// Apply `fault` to this many requests, then answer normally again; nil for every request.
    public var faultCount: Int?
    /// Sent with 429 answers.
    public var retryAfterSeconds: Int
    /// Answer 429 to requests beyond this many in the last 60 seconds; nil for no limit.
    public var requestsPerMinute: Int?
    /// A fixed reply; nil to answer with a reply naming the mock and echoing the last user message.
    public var reply: String?

    public init(
        latencyMilliseconds: Int = 0,
        chunkDelayMilliseconds: Int = 0,
        fault: Fault? = nil,
        faultCount: Int? = nil,
        retryAfterSeconds: Int = 1,
        requestsPerMinute: Int? = nil,
        reply: String? = nil
    ) {
        self.latencyMilliseconds = latencyMilliseconds
        self.chunkDelayMilliseconds = chunkDelayMilliseconds
        self.fault = fault
        self.faultCount = faultCount
        self.retryAfterSeconds = retryAfterSeconds
        self.requestsPerMinute = requestsPerMinute
        self.reply = reply
    }

    enum CodingKeys: String, CodingKey {
        case latencyMilliseconds = "latency_ms"
        case chunkDelayMilliseconds = "chunk_delay_ms"
        case fault
        case faultCount = "fault_count"
        case retryAfterSeconds = "retry_after_seconds"
        case requestsPerMinute = "requests_per_minute"
        case reply
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.latencyMilliseconds = try container.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? 0
        self.chunkDelayMilliseconds = try container.decodeIfPresent(Int.self, forKey: .chunkDelayMilliseconds) ?? 0
        self.fault = try container.decodeIfPresent(Fault.self, forKey: .fault)
        self.faultCount = try container.decodeIfPresent(Int.self, forKey: .faultCount)
        self.retryAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds) ?? 1
        self.requestsPerMinute = try container.decodeIfPresent(Int.self, forKey: .requestsPerMinute)
        self.reply = try container.decodeIfPresent(String.self, forKey: .reply)
    }
}

/// What the mock has seen, for tests and the benchmark (`GET /mock/stats`).
public struct MockGroqStats: Codable, Sendable, Equatable {
    /// Chat-completion requests received (including rejected ones).
    public var requests: Int
    /// Requests answered with a complete reply.
    public var completed: Int
    /// Requests answered 429.
    public var rateLimited: Int
    /// Requests answered with another fault.
    public var faulted: Int
    /// Requests in progress now, and the most at any moment.
    public var inFlight: Int
    public var maxInFlight: Int
    /// The most requests received within any 60-second window.
    public var maxRequestsInAnyMinute: Int
    /// Requests whose Authorization header was wrong.
    public var badKeys: Int

    enum CodingKeys: String, CodingKey {
        case requests, completed, faulted
        case rateLimited = "rate_limited"
        case inFlight = "in_flight"
        case maxInFlight = "max_in_flight"
        case maxRequestsInAnyMinute = "max_requests_in_any_minute"
        case badKeys = "bad_keys"
    }
}

/// One message of a request the mock received.
public struct MockGroqMessage: Codable, Sendable, Equatable {
    public let role: String
    public let content: String
}
