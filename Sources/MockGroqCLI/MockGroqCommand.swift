import ArgumentParser
import MockGroq

/// `mock-groq`: a Groq-compatible server for offline development. Point the chat server at it with
/// `GROQ_BASE_URL=http://127.0.0.1:<port>/openai/v1 GROQ_API_KEY=<api-key>`.
@main
struct MockGroqCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-groq",
        abstract: "A Groq-compatible mock upstream (replies say they come from the mock)."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9090
    @Option(name: .customLong("api-key"), help: "The API key clients must send.") var apiKey = "mock-key"
    @Option(name: .customLong("latency-ms"), help: "Delay before each answer starts.") var latency = 300
    @Option(name: .customLong("chunk-delay-ms"), help: "Delay between streamed chunks.") var chunkDelay = 40

    func run() async throws {
        let server = try await MockGroqServer.start(
            host: self.host,
            port: self.port,
            apiKey: self.apiKey,
            behavior: MockGroqBehavior(latencyMilliseconds: self.latency, chunkDelayMilliseconds: self.chunkDelay)
        )
        print(
            "mock-groq listening on \(server.baseURL) (API key \"\(self.apiKey)\"); behavior: PUT /mock/behavior, counters: GET /mock/stats"
        )
        try await server.wait()
    }
}
