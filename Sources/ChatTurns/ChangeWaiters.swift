/// Long-polls parked on one chat until its messages change, and the count of those changes.
///
/// Each waiter resumes exactly once: on the next change, at its deadline, or when its request is cancelled
/// (the client went away), whichever comes first; its deadline timer is cancelled with it. A value owned by
/// one ``ChatSessionActor``; not shared.
struct ChangeWaiters {
    private var parked: [Int: (continuation: CheckedContinuation<Void, Never>, timer: Task<Void, Never>)] = [:]
    private var lastID = 0
    /// Bumped on every change to the chat's messages: a reader compares it before and after a read.
    private(set) var version = 0

    var isEmpty: Bool { self.parked.isEmpty }
    var count: Int { self.parked.count }

    /// A new waiter's id.
    mutating func makeID() -> Int {
        self.lastID += 1
        return self.lastID
    }

    /// The chat changed: every waiter resumes.
    mutating func changed() {
        self.version += 1
        self.resumeAll()
    }

    mutating func park(_ id: Int, _ continuation: CheckedContinuation<Void, Never>, timer: Task<Void, Never>) {
        self.parked[id] = (continuation, timer)
    }

    /// Resumes one waiter (its deadline passed, or its request was cancelled); nothing if it already resumed.
    mutating func resume(_ id: Int) {
        guard let waiter = self.parked.removeValue(forKey: id) else { return }
        waiter.timer.cancel()
        waiter.continuation.resume()
    }

    /// Resumes every waiter (the chat changed, or the server is shutting down).
    mutating func resumeAll() {
        let waiting = self.parked
        self.parked = [:]
        for waiter in waiting.values {
            waiter.timer.cancel()
            waiter.continuation.resume()
        }
    }
}
