/// The life of one ``ChatSessionActor`` as one value, in the style of Hummingbird's `Server.State` and
/// swift-nio's `NIOThreadPool.State`: the actor changes it only through the transitions below, and each
/// transition returns what the actor must then do (an ``Action``), so every rule about when a session ends is
/// written here.
///
/// A session is `serving` while it has work (turns queued or running, a title being written, long-polls), and
/// `shuttingDown` once the server drains: its long-polls answer at once, and a turn cancelled from then on is
/// saved as interrupted unless its user had stopped it. It is `retired` the moment it has no work left; every
/// later call throws ``ChatSessionActor/Retired`` and the registry makes a fresh session.
enum SessionState {
    case serving(SessionWork)
    case shuttingDown(SessionWork)
    case retired

    /// What the actor does after a transition.
    enum Action {
        case none
        /// No work is left and the session is retired: take it out of the registry.
        case retire
        /// Cancel these tasks (turns, a title).
        case cancel([Task<Void, Never>])
        /// Wake every parked long-poll, so that it answers now.
        case wakeWaiters
    }

    init() {
        self = .serving(SessionWork())
    }

    var isRetired: Bool {
        if case .retired = self { return true }
        return false
    }

    var isShuttingDown: Bool {
        if case .shuttingDown = self { return true }
        return false
    }

    /// Whether a turn is queued or running, or a title is being written.
    var hasTurns: Bool {
        guard let work = self.work else { return false }
        return !work.turns.isEmpty || work.title != nil
    }

    /// Whether the turn numbered `number` was stopped by its user (or an admin, or a remote cancel).
    func isCancelledByUser(_ number: Int) -> Bool {
        self.work?.turns.first { $0.number == number }?.cancelledByUser ?? false
    }

    // MARK: Transitions

    /// Queues a turn: `makeTask` gets its number and the turn it must wait for (the last queued), and returns
    /// the task that runs it. A retired session queues nothing.
    mutating func queueTurn(
        _ makeTask: (_ number: Int, _ previous: Task<Void, Never>?) -> Task<Void, Never>
    ) throws(ChatSessionActor.Retired) {
        guard var work = self.work else { throw ChatSessionActor.Retired() }
        let number = work.nextTurnNumber
        work.nextTurnNumber += 1
        work.turns.append(SessionWork.Turn(number: number, task: makeTask(number, work.turns.last?.task)))
        self.work = work
    }

    mutating func turnEnded(_ number: Int) -> Action {
        self.work?.turns.removeAll { $0.number == number }
        return self.retireIfIdle()
    }

    /// Starts the chat's background title with `makeTask`, unless one is being written or the server is
    /// shutting down.
    mutating func startTitle(_ makeTask: () -> Task<Void, Never>) {
        guard case .serving(var work) = self, work.title == nil else { return }
        work.title = makeTask()
        self = .serving(work)
    }

    mutating func titleEnded() -> Action {
        self.work?.title = nil
        return self.retireIfIdle()
    }

    /// A long-poll begins: the session stays alive until it ends.
    mutating func longPollStarted() throws(ChatSessionActor.Retired) {
        guard self.work != nil else { throw ChatSessionActor.Retired() }
        self.work?.longPolls += 1
    }

    mutating func longPollEnded() -> Action {
        self.work?.longPolls -= 1
        return self.retireIfIdle()
    }

    /// The user stops the turn numbered `number`: it is marked so (saved `cancelled`, even while the server
    /// shuts down) and its task is returned, to be cancelled; nil if no such turn is queued or running.
    mutating func cancelByUser(_ number: Int) -> Task<Void, Never>? {
        guard var work = self.work, let index = work.turns.firstIndex(where: { $0.number == number }) else {
            return nil
        }
        work.turns[index].cancelledByUser = true
        self.work = work
        return work.turns[index].task
    }

    /// Every queued turn but `running` is cancelled (they never start).
    func cancelQueued(except running: Int?) -> Action {
        .cancel(self.work?.turns.filter { $0.number != running }.map(\.task) ?? [])
    }

    /// The server drains: from now on long-polls do not wait, and the parked ones answer now.
    mutating func endLongPolls() -> Action {
        guard let work = self.work else { return .none }
        self = .shuttingDown(work)
        return .wakeWaiters
    }

    /// The grace period is over: every turn and the title are cancelled.
    mutating func interruptTurns() -> Action {
        guard let work = self.work else { return .none }
        self = .shuttingDown(work)
        return .cancel(work.turns.map(\.task) + (work.title.map { [$0] } ?? []))
    }

    private mutating func retireIfIdle() -> Action {
        guard let work = self.work, work.isIdle else { return .none }
        self = .retired
        return .retire
    }

    /// The work of a session that is not retired; setting it keeps the phase.
    private var work: SessionWork? {
        get {
            switch self {
            case .serving(let work), .shuttingDown(let work): work
            case .retired: nil
            }
        }
        set {
            guard let newValue else { return }
            switch self {
            case .serving: self = .serving(newValue)
            case .shuttingDown: self = .shuttingDown(newValue)
            case .retired: break
            }
        }
    }
}

/// What keeps a session alive: its turns, its background title, its long-polls.
struct SessionWork {
    /// A queued or running turn.
    struct Turn {
        let number: Int
        let task: Task<Void, Never>
        /// Stopped by its user, an admin or a remote cancel: saved `cancelled`, also while the server shuts down.
        var cancelledByUser = false
    }

    /// In arrival order; each waits for the one before it, so the first is the one running (or starting).
    var turns: [Turn] = []
    var nextTurnNumber = 0
    /// The chat's background title, after its first complete reply.
    var title: Task<Void, Never>?
    /// Long-polls between their start and their answer (parked or reading the database).
    var longPolls = 0

    /// Parked waiters need no term of their own: they are long-polls, or a turn waiting for its chat.
    var isIdle: Bool { self.turns.isEmpty && self.title == nil && self.longPolls == 0 }
}
