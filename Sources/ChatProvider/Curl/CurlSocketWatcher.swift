import CCurl
import Foundation

/// The sockets and the timer libcurl asks a multi handle's owner to watch (its `multi_socket` interface): an
/// epoll set that its socket callback edits, the deadline its timer callback sets, and an eventfd in the same
/// set that wakes the waiting thread.
///
/// The work per event is that of the transfers whose sockets are ready, where `curl_multi_perform` and
/// `curl_multi_poll` walk every transfer on every wake-up.
///
/// Threading: the callbacks, ``wait(timeout:)`` and ``timerDeadline`` run on the one thread that drives the
/// multi handle (libcurl calls the callbacks from inside the calls that thread makes); ``wake()`` is a
/// `write(2)` and safe from any thread.
final class CurlSocketWatcher: @unchecked Sendable {
    // @unchecked Sendable: `timerDeadline` is the only mutable state, touched on the driver thread only (see
    // above); the descriptors are immutable and closed in deinit, after the driver thread let go of them.
    private let epoll: Int32
    private let wakeup: Int32
    /// When libcurl wants `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`; nil: no timer.
    var timerDeadline: ContinuousClock.Instant?

    /// Ready descriptors of the last ``wait(timeout:)`` and their CURL_CSELECT_* bits.
    private var readyDescriptors = [Int32](repeating: 0, count: 64)
    private var readyEvents = [Int32](repeating: 0, count: 64)

    init() throws(CurlError) {
        let epoll = ccurl_epoll_create()
        guard epoll >= 0 else { throw .setupFailed("epoll_create1: \(String(cString: strerror(errno)))") }
        let wakeup = ccurl_wakeup_create(epoll)
        guard wakeup >= 0 else {
            close(epoll)
            throw .setupFailed("eventfd: \(String(cString: strerror(errno)))")
        }
        self.epoll = epoll
        self.wakeup = wakeup
    }

    deinit {
        close(self.wakeup)
        close(self.epoll)
    }

    /// Makes libcurl report its sockets and timer to this watcher. It must outlive the multi handle's use.
    func attach(to multi: UnsafeMutableRawPointer) throws(CurlError) {
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        for code in [
            ccurl_multi_setopt_socket_callback(multi, Self.socketCallback),
            ccurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, opaque),
            ccurl_multi_setopt_timer_callback(multi, Self.timerCallback),
            ccurl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, opaque),
        ] where code != CURLM_OK {
            throw .setupFailed("curl_multi_setopt: \(String(cString: curl_multi_strerror(code)))")
        }
    }

    /// Wakes ``wait(timeout:)`` from any thread.
    func wake() {
        ccurl_wakeup_signal(self.wakeup)
    }

    /// Sleeps until a watched socket is ready, `timeout` passes, or ``wake()``; then calls `ready` with each
    /// ready socket and its CURL_CSELECT_* bits.
    func wait(timeout: Duration, _ ready: (Int32, Int32) -> Void) {
        let milliseconds = Int32(clamping: max(0, (timeout + .microseconds(999)).milliseconds))
        let count = ccurl_epoll_wait(self.epoll, &self.readyDescriptors, &self.readyEvents, milliseconds)
        for index in 0..<max(0, Int(count)) {
            let descriptor = self.readyDescriptors[index]
            if descriptor == self.wakeup {
                ccurl_wakeup_clear(self.wakeup)
            } else {
                ready(descriptor, self.readyEvents[index])
            }
        }
    }

    /// CURLMOPT_SOCKETFUNCTION: watch the socket as asked, or forget it. An epoll failure leaves the
    /// transfer to its timeouts (libcurl takes no error from this callback before 7.84).
    private static let socketCallback: curl_socket_callback = { _, socket, what, watcher, _ in
        guard let watcher else { return 0 }
        let epoll = Unmanaged<CurlSocketWatcher>.fromOpaque(watcher).takeUnretainedValue().epoll
        _ = ccurl_epoll_watch(epoll, socket, what)
        return 0
    }

    /// CURLMOPT_TIMERFUNCTION: when libcurl wants its timeout action next (-1: never).
    private static let timerCallback: curl_multi_timer_callback = { _, milliseconds, watcher in
        guard let watcher else { return 0 }
        let owner = Unmanaged<CurlSocketWatcher>.fromOpaque(watcher).takeUnretainedValue()
        owner.timerDeadline = milliseconds < 0 ? nil : ContinuousClock.now + .milliseconds(Int64(milliseconds))
        return 0
    }
}
