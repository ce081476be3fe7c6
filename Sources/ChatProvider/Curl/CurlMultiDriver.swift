import CCurl
import Foundation
import Synchronization

/// Drives every transfer of a ``CurlClient`` through one libcurl multi handle on one dedicated thread.
///
/// Other threads only append commands (add, cancel, resume, stop) under a mutex and wake the thread through
/// its ``CurlSocketWatcher``. Everything else — the multi handle, the easy handles and their callbacks — runs
/// on the driver thread, so libcurl is never used concurrently. The thread sleeps in epoll and hands libcurl
/// only the sockets that are ready (`curl_multi_socket_action`), so the cost of an event does not grow with
/// the number of transfers in flight. Connections stay in the multi handle's cache and are reused.
final class CurlMultiDriver: Sendable {
    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer, any Error)
        case resume(CurlTransfer)
        case stop
    }

    // The multi handle is used only on the driver thread.
    private nonisolated(unsafe) let multi: UnsafeMutableRawPointer
    private let watcher: CurlSocketWatcher
    private let commands = Mutex<[Command]>([])

    init(name: String = "curl") throws(CurlError) {
        CurlGlobal.initializeOnce()
        let watcher = try CurlSocketWatcher()
        guard let multi = curl_multi_init() else { throw .setupFailed("curl_multi_init returned NULL") }
        do {
            try watcher.attach(to: multi)
        } catch {
            curl_multi_cleanup(multi)
            throw error
        }
        self.multi = multi
        self.watcher = watcher
        let thread = Thread { [self] in
            Thread.current.name = name
            self.run()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func add(_ transfer: CurlTransfer) {
        self.send(.add(transfer))
    }

    /// Removes a transfer at once and ends it with `error` (unless it already ended).
    func cancel(_ transfer: CurlTransfer, with error: any Error = CancellationError()) {
        self.send(.cancel(transfer, error))
    }

    /// Resumes a transfer its write callback paused.
    func resume(_ transfer: CurlTransfer) {
        self.send(.resume(transfer))
    }

    /// Ends every transfer and the thread.
    func stop() {
        self.send(.stop)
    }

    private func send(_ command: Command) {
        self.commands.withLock { $0.append(command) }
        self.watcher.wake()
    }

    // MARK: Driver thread

    /// What the driver thread alone holds between turns of its loop.
    private struct LoopState {
        /// The transfers in the multi handle, by easy handle.
        var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        /// libcurl's count of running transfers (written by `curl_multi_socket_action`, not read).
        var running: Int32 = 0
        /// The idle deadlines are scanned at most every 100 ms (not on every socket event), so their cost does
        /// not grow with the event rate; a timeout fires within that of its deadline.
        var nextScan: ContinuousClock.Instant
        /// The earliest idle deadline the last scan found.
        var nextDeadline: ContinuousClock.Instant?
    }

    private func run() {
        var state = LoopState(nextScan: .now)
        while self.perform(self.takeCommands(), on: &state.active) {
            if let deadline = self.watcher.timerDeadline, deadline <= .now {
                self.watcher.timerDeadline = nil
                curl_multi_socket_action(self.multi, ccurl_socket_timeout(), 0, &state.running)
            }
            self.removeCompleted(from: &state.active)
            let now = ContinuousClock.now
            self.expireIdleTransfers(&state, now: now)
            self.waitForWork(&state, now: now)
        }
        curl_multi_cleanup(self.multi)
    }

    private func takeCommands() -> [Command] {
        self.commands.withLock { commands in
            defer { commands.removeAll(keepingCapacity: true) }
            return commands
        }
    }

    /// Applies the commands in order; false once `.stop` ended every transfer (later commands are dropped).
    private func perform(_ commands: [Command], on active: inout [UnsafeMutableRawPointer: CurlTransfer]) -> Bool {
        for command in commands {
            switch command {
            case .add(let transfer):
                let code = curl_multi_add_handle(self.multi, transfer.easy)
                if code == CURLM_OK {
                    active[transfer.easy] = transfer
                    transfer.started(at: .now)
                } else {
                    transfer.finish(error: CurlError.setupFailed(String(cString: curl_multi_strerror(code))))
                }
            case .cancel(let transfer, let error):
                if active.removeValue(forKey: transfer.easy) != nil {
                    curl_multi_remove_handle(self.multi, transfer.easy)
                }
                transfer.finish(error: error)
            case .resume(let transfer):
                if active[transfer.easy] != nil {
                    transfer.started(at: .now)
                    ccurl_easy_unpause(transfer.easy)
                }
            case .stop:
                for transfer in active.values {
                    curl_multi_remove_handle(self.multi, transfer.easy)
                    transfer.finish(error: CancellationError())
                }
                active.removeAll()
                return false
            }
        }
        return true
    }

    /// Ends the transfers libcurl reports done, with libcurl's result.
    private func removeCompleted(from active: inout [UnsafeMutableRawPointer: CurlTransfer]) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            curl_multi_remove_handle(self.multi, easy)
            active.removeValue(forKey: easy)?.finish(code: result)
        }
    }

    /// Idle timeouts: a transfer that received no byte for its `idleTimeout` ends as timed out. Checked here
    /// rather than with libcurl's low-speed limit, which averages over whole seconds and fired many seconds away
    /// from the configured time.
    private func expireIdleTransfers(_ state: inout LoopState, now: ContinuousClock.Instant) {
        guard now >= state.nextScan || (state.nextDeadline.map { $0 <= now } ?? false) else { return }
        state.nextScan = now + .milliseconds(100)
        state.nextDeadline = nil
        for (easy, transfer) in state.active {
            guard let deadline = transfer.idleDeadline else { continue }
            if deadline <= now {
                curl_multi_remove_handle(self.multi, easy)
                state.active[easy] = nil
                transfer.finish(error: CurlError.timedOut("no data for \(transfer.idleTimeoutDescription)"))
            } else {
                state.nextDeadline = min(state.nextDeadline ?? deadline, deadline)
            }
        }
    }

    /// Sleeps until a socket is ready, libcurl's timer is due, the next idle deadline, or a command, and hands
    /// libcurl the ready sockets.
    private func waitForWork(_ state: inout LoopState, now: ContinuousClock.Instant) {
        var wake = max(state.nextDeadline ?? now + .seconds(1), state.nextScan)
        if let timer = self.watcher.timerDeadline { wake = min(wake, timer) }
        self.watcher.wait(timeout: min(wake - now, .seconds(1))) { socket, events in
            curl_multi_socket_action(self.multi, socket, events, &state.running)
        }
    }
}
