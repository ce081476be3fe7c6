import AsyncHTTPClient
import ChatStorage
import Foundation
import Histogram
import NIOCore
import NIOHTTP1
import Synchronization

/// `concurrency` waiters each keep a long-poll parked on their own chat, re-parking as soon as it answers;
/// `senders` clients, started spread over a second, send into those chats round-robin. The figure is the time
/// from the start of a send to the answer of the long-poll parked on that chat (its wake-up), not the send's
/// own latency, which includes the AI turn. A send whose waiter never saw the message is counted as an error
/// ("missed"). With several replicas, chat i's waiter parks on replica i and its sends go to replica i + 1:
/// every wake-up crosses replicas.
struct LongPollScenario: Sendable {
    let target: BenchTarget
    let fixtures: Fixtures
    let settings: RunSettings
    let senders: Int
    let sampler: RSSSampler

    /// When the pending send into each chat started; taken by that chat's waiter when it sees the message.
    final class SendTimes: Sendable {
        private let started = Mutex<[String: ContinuousClock.Instant]>([:])

        func record(_ chat: String, at instant: ContinuousClock.Instant) {
            self.started.withLock { $0[chat] = instant }
        }

        func take(_ chat: String) -> ContinuousClock.Instant? {
            self.started.withLock { $0.removeValue(forKey: chat) }
        }

        func pending(startedIn range: Range<ContinuousClock.Instant>) -> Int {
            self.started.withLock { $0.values.filter(range.contains).count }
        }
    }

    /// The run's instants: what happens before `measureFrom` is warm-up; every client stops at `end`.
    struct Window: Sendable {
        let measureFrom: ContinuousClock.Instant
        let end: ContinuousClock.Instant
    }

    func run() async throws -> ScenarioResult {
        let chats = try await self.target.createChats(self.settings.concurrency, token: self.fixtures.senderToken)
        let senders = min(self.senders, chats.count)
        let measureFrom = ContinuousClock.now + self.settings.warmup
        let window = Window(measureFrom: measureFrom, end: measureFrom + self.settings.duration)
        let sendTimes = SendTimes()
        let progress = ProgressLine(name: "longpoll")
        defer { progress.finish() }
        self.sampler.resetPeak()
        let recorders = await withTaskGroup(of: Recorder.self) { group in
            for (chatIndex, chat) in chats.enumerated() {
                group.addTask {
                    await self.wait(
                        on: chat, replica: chatIndex, window: window, sendTimes: sendTimes, progress: progress)
                }
            }
            for sender in 0..<senders {
                group.addTask {
                    await self.send(
                        sender, of: senders, into: chats, window: window, sendTimes: sendTimes, progress: progress)
                }
            }
            return await group.reduce(into: [Recorder]()) { $0.append($1) }
        }
        var total = Recorder(merging: recorders)
        // Sends measured and finished well before the end whose message no waiter reported (none in a window of
        // under 2 s: the range is then empty, not reversed).
        let settled = max(window.measureFrom, window.end - .seconds(2))
        let missed = sendTimes.pending(startedIn: window.measureFrom..<settled)
        if missed > 0 { total.errors["missed", default: 0] += missed }
        return ScenarioResult(
            name: "longpoll",
            concurrency: self.settings.concurrency,
            duration: self.settings.duration,
            recorded: total,
            peakRSSMegabytes: self.sampler.peakMegabytes,
            cpuMillisecondsPerRequest: nil,
            note:
                "\(self.settings.concurrency) parked waiters, \(senders) senders; latency = send → its waiter's wake-up"
        )
    }

    /// One waiter: keeps a long-poll parked on `chat` (on `replica`) and, when it answers with a user message,
    /// records the time since that message's send started.
    private func wait(
        on chat: String, replica: Int, window: Window, sendTimes: SendTimes, progress: ProgressLine
    ) async -> Recorder {
        let clock = ContinuousClock()
        var recorder = Recorder()
        var lastID = 0
        while clock.now < window.end {
            // Park no longer than the run lasts, so every waiter has returned soon after the end.
            let wait = max(1, min(30, Int((window.end - clock.now).seconds.rounded(.up))))
            let (status, body) = await self.target.send(
                .GET, "/chats/\(chat)/messages?after=\(lastID)&wait=\(wait)", token: self.fixtures.senderToken,
                replica: replica)
            let answeredAt = clock.now
            guard status == 200 else {
                progress.record(success: false)
                if answeredAt >= window.measureFrom { recorder.fail(status: status) }
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            let messages =
                (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [[String: Any]] ?? []
            lastID = max(lastID, messages.compactMap { $0["id"] as? Int }.max() ?? lastID)
            guard messages.contains(where: { $0["role"] as? String == "user" }), let sentAt = sendTimes.take(chat)
            else { continue }
            progress.record(success: true)
            if sentAt >= window.measureFrom { recorder.record(answeredAt - sentAt, status: 200) }
        }
        return recorder
    }

    /// Sender number `sender` of `senders`: sends into every `senders`-th chat in turn, each send to the replica
    /// after the chat's waiter's, noting when each send started.
    private func send(
        _ sender: Int, of senders: Int, into chats: [String], window: Window, sendTimes: SendTimes,
        progress: ProgressLine
    ) async -> Recorder {
        let clock = ContinuousClock()
        var recorder = Recorder()
        // Give the waiters a moment to park before the first sends; then the senders start spread over a second,
        // as independent users would. Started together, every sender's turn takes the same upstream second, so
        // all their sends kept arriving in the same millisecond, and the p99 measured how long the server takes
        // to absorb that burst rather than a wake-up.
        try? await Task.sleep(for: .milliseconds(500) + .milliseconds(1000) * Double(sender) / Double(senders))
        var index = sender
        while clock.now < window.end {
            let chatIndex = index % chats.count
            let chat = chats[chatIndex]
            index += senders
            let sentAt = clock.now
            sendTimes.record(chat, at: sentAt)
            let status = await self.target.status(
                .POST, "/chat", token: self.fixtures.senderToken,
                json: #"{"chat_id": "\#(chat)", "message": "wake the poller"}"#, replica: chatIndex + 1)
            if status != 200 {
                progress.record(success: false)
                if sentAt >= window.measureFrom { recorder.fail(status: status) }
            }
        }
        return recorder
    }
}
