import AsyncHTTPClient
import ChatStorage
import Foundation
import Histogram
import NIOCore
import NIOHTTP1

/// `concurrency` clients each park a long-poll on their own chat, then send into that chat; the figure is
/// the time from the send to the parked long-poll's answer (its wake-up), not the send's own latency.
struct LongPollScenario: Sendable {
    let target: BenchTarget
    let fixtures: Fixtures
    let settings: RunSettings
    let sampler: RSSSampler

    func run() async throws -> ScenarioResult {
        let target = self.target
        let token = self.fixtures.senderToken
        let chats = try await target.createChats(self.settings.concurrency, token: token)
        let clock = ContinuousClock()
        let measureFrom = clock.now + self.settings.warmup
        let end = measureFrom + self.settings.duration
        self.sampler.resetPeak()
        let recorders = await withTaskGroup(of: Recorder.self) { group in
            for chat in chats {
                group.addTask {
                    var recorder = Recorder()
                    var lastID = 0
                    while clock.now < end {
                        let after = lastID
                        let poll = Task { () -> (Int?, ByteBuffer, ContinuousClock.Instant) in
                            let (status, body) = await target.send(
                                .GET,
                                "/chats/\(chat)/messages?after=\(after)&wait=30",
                                token: token
                            )
                            return (status, body, clock.now)
                        }
                        // Let the long-poll reach the server and park.
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 200...400)))
                        let sentAt = clock.now
                        let sent = await target.status(
                            .POST,
                            "/chat",
                            token: token,
                            json: #"{"chat_id": "\#(chat)", "message": "wake the poller"}"#
                        )
                        let (status, body, answeredAt) = await poll.value
                        let ids =
                            ((try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [[String: Any]]
                            ?? [])
                            .compactMap { $0["id"] as? Int }
                        lastID = max(lastID, ids.max() ?? lastID)
                        if sentAt >= measureFrom {
                            let woke = status == 200 && !ids.isEmpty && sent == 200
                            recorder.record(
                                answeredAt - sentAt, status: woke ? 200 : (status ?? sent).map { $0 == 200 ? 408 : $0 })
                        }
                    }
                    return recorder
                }
            }
            return await group.reduce(into: [Recorder]()) { $0.append($1) }
        }
        var total = Recorder()
        for recorder in recorders { total.merge(recorder) }
        return ScenarioResult(
            name: "longpoll",
            concurrency: self.settings.concurrency,
            seconds: self.settings.duration.seconds,
            requests: total.requests,
            requestsPerSecond: Double(total.requests) / self.settings.duration.seconds,
            p50Milliseconds: total.percentile(50),
            p90Milliseconds: total.percentile(90),
            p99Milliseconds: total.percentile(99),
            maxMilliseconds: Double(total.histogram.max) / 1000,
            errors: total.errors,
            peakRSSMegabytes: self.sampler.peakMegabytes,
            note: "latency = send → parked long-poll answered (wake-up)"
        )
    }
}
