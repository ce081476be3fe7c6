import Logging
import NIOCore
import Synchronization

/// Keeps idle connections from locking clients out, where `MAX_CONNECTIONS` alone would let them fill the server:
///
/// - At most `MAX_CONNECTIONS_PER_ADDRESS` open connections per client address. The address is the socket's
///   peer; a peer listed in `FORWARDED_ALLOW_IPS` is a proxy carrying many clients and is not capped. A
///   connection over the cap is answered 429 and closed at once (``ConnectionRefusal``).
/// - Near `MAX_CONNECTIONS` (more than `highWater` open), each new connection makes the guard close the
///   connections idle longest until `lowWater` remain. Idle: no request in progress (a request whose head has not
///   arrived whole is not in progress). A connection with a request in progress, a streaming reply included, is
///   never chosen; if every connection is busy, new ones wait in the listen backlog as before.
///
/// Safe from any event loop: the table is behind a mutex held only to count, and the connections chosen are
/// closed on their own event loops, where their idleness is checked once more.
final class ConnectionGuard: Sendable {
    let maxConnections: Int
    /// 0: no per-address cap.
    let perAddress: Int
    let trustedProxies: Set<String>
    /// Above this many open connections a new one makes the guard close idle ones...
    let highWater: Int
    /// ...until this many remain.
    let lowWater: Int
    private let logger: Logger

    private struct State {
        var open: [ObjectIdentifier: ConnectionActivity] = [:]
        var perAddress: [String: Int] = [:]
        /// Connections chosen for closing whose close has not completed.
        var chosen = 0
        /// Addresses at their cap, logged once until they drop below it.
        var atCap: Set<String> = []
    }

    private let state = Mutex(State())

    init(maxConnections: Int, perAddress: Int, trustedProxies: Set<String>, logger: Logger) {
        self.maxConnections = maxConnections
        self.perAddress = perAddress
        self.trustedProxies = trustedProxies
        self.highWater = maxConnections - max(1, maxConnections / 16)
        self.lowWater = maxConnections - max(1, maxConnections / 8)
        self.logger = logger
    }

    /// Open connections the guard knows of.
    var openCount: Int { self.state.withLock { $0.open.count } }

    /// Admits a new connection: its activity record, or nil when its address is at its cap (the caller refuses
    /// it). May close the connections idle longest.
    func opened(_ channel: any Channel) -> ConnectionActivity? {
        let address = channel.remoteAddress?.ipAddress
        let counted = self.perAddress > 0 && address.map { !self.trustedProxies.contains($0) } == true
        let activity = ConnectionActivity(channel: channel, countedAddress: counted ? address : nil)
        let (admitted, newlyAtCap, victims) = self.state.withLock { state in
            if let key = activity.countedAddress {
                let count = state.perAddress[key, default: 0]
                guard count < self.perAddress else {
                    return (false, state.atCap.insert(key).inserted, [ConnectionActivity]())
                }
                state.perAddress[key] = count + 1
            }
            state.open[ObjectIdentifier(activity)] = activity
            return (true, false, self.chooseIdlest(in: &state, sparing: activity))
        }
        if newlyAtCap, let address {
            self.logger.notice(
                "connections from one address at MAX_CONNECTIONS_PER_ADDRESS: refusing more",
                metadata: ["client": "\(address)", "limit": "\(self.perAddress)"])
        }
        if !victims.isEmpty {
            self.logger.info(
                "near MAX_CONNECTIONS: closing the connections idle longest",
                metadata: ["closing": "\(victims.count)", "limit": "\(self.maxConnections)"])
        }
        for victim in victims { self.close(victim) }
        return admitted ? activity : nil
    }

    /// The connection has closed.
    func closed(_ activity: ConnectionActivity) {
        self.state.withLock { state in
            guard state.open.removeValue(forKey: ObjectIdentifier(activity)) != nil else { return }
            if activity.isChosen { state.chosen -= 1 }
            guard let key = activity.countedAddress else { return }
            let count = state.perAddress[key, default: 1] - 1
            state.perAddress[key] = count > 0 ? count : nil
            if count < self.perAddress { state.atCap.remove(key) }
        }
    }

    /// Past `highWater` (not counting connections already being closed), marks the idle connections open longest
    /// since their last request, all but the newcomer, until `lowWater` would remain.
    private func chooseIdlest(in state: inout State, sparing newcomer: ConnectionActivity) -> [ConnectionActivity] {
        let remaining = state.open.count - state.chosen
        guard remaining > self.highWater else { return [] }
        let idle = state.open.values.filter { $0 !== newcomer && !$0.isChosen && $0.isIdle }
        let victims = idle.sorted { $0.idleSince < $1.idleSince }.prefix(remaining - self.lowWater)
        var chosen: [ConnectionActivity] = []
        for victim in victims where victim.choose() { chosen.append(victim) }
        state.chosen += chosen.count
        return chosen
    }

    /// Closes a chosen connection on its event loop if it is still idle there (a request's head may have arrived
    /// since it was chosen: then it is spared).
    private func close(_ victim: ConnectionActivity) {
        let channel = victim.channel
        channel.eventLoop.execute {
            if victim.isIdle {
                channel.close(promise: nil)
            } else {
                self.state.withLock { state in
                    // Under the lock, so `closed` counts it either as chosen or as spared, never both.
                    if state.open[ObjectIdentifier(victim)] != nil, victim.isChosen { state.chosen -= 1 }
                    victim.spare()
                }
            }
        }
    }
}
