/// Everyone following the reply being generated: the client that asked for it and reattached readers.
///
/// - Bounded: each follower's stream buffers at most ``bufferLimit`` events. A follower whose buffer is full
///   has fallen behind: it is dropped at once (its stream ends without a final event, and its reader tells
///   the client to reattach with `Last-Event-ID`; the reply is in the database). The turn never waits for
///   a reader.
/// - Offsets: a follower receives no text before the offset it asked for, and each part of the reply once.
///
/// A value owned by one ``ChatSessionActor``; not shared.
public struct ReplyFollowers {
    /// Events buffered per follower before it counts as fallen behind: more than a whole reply's deltas at
    /// the default `MAX_COMPLETION_TOKENS`, so only a reader that stopped reading is dropped.
    static let bufferLimit = 2048

    /// A follower's stream, made with the buffer limit.
    public static func makeStream() -> (AsyncStream<TurnEvent>, AsyncStream<TurnEvent>.Continuation) {
        AsyncStream<TurnEvent>.makeStream(bufferingPolicy: .bufferingOldest(Self.bufferLimit))
    }

    private struct Follower {
        let continuation: AsyncStream<TurnEvent>.Continuation
        /// No text before this offset (Unicode scalars) is sent.
        var from: Int
        /// False for a requester that waits for the whole reply (JSON answers): it gets no deltas.
        let wantsDeltas: Bool
    }

    private var followers: [Int: Follower] = [:]
    private var nextID = 0

    var count: Int { self.followers.count }

    /// Adds a follower; it receives the events sent from now on.
    mutating func add(
        _ continuation: AsyncStream<TurnEvent>.Continuation, from offset: Int = 0, wantsDeltas: Bool = true
    ) {
        self.nextID += 1
        self.followers[self.nextID] = Follower(continuation: continuation, from: offset, wantsDeltas: wantsDeltas)
    }

    /// An event that is not reply text (`started`).
    mutating func send(_ event: TurnEvent) {
        for id in Array(self.followers.keys) { self.deliver(event, to: id) }
    }

    /// Reply text that ends at `end` (Unicode scalars); each follower gets only the part at or after its `from`.
    mutating func sendDelta(_ text: String, scalarCount: Int, end: Int) {
        let start = end - scalarCount
        for (id, follower) in self.followers where follower.wantsDeltas && end > follower.from {
            if start >= follower.from {
                self.deliver(.delta(text, offset: end), to: id)
            } else {
                let scalars = text.unicodeScalars
                let suffix = scalars[scalars.index(scalars.startIndex, offsetBy: follower.from - start)...]
                self.deliver(.delta(String(suffix), offset: end), to: id)
            }
        }
    }

    /// The last event: sent to every follower, whose streams then end.
    mutating func finish(with event: TurnEvent) {
        for follower in self.followers.values {
            follower.continuation.yield(event)
            follower.continuation.finish()
        }
        self.followers = [:]
    }

    private mutating func deliver(_ event: TurnEvent, to id: Int) {
        guard let follower = self.followers[id] else { return }
        switch follower.continuation.yield(event) {
        case .enqueued:
            break
        case .dropped:
            // Fallen behind: end its stream now; its reader reports that it must reattach.
            follower.continuation.finish()
            self.followers[id] = nil
        case .terminated:
            self.followers[id] = nil
        @unknown default:
            self.followers[id] = nil
        }
    }
}
