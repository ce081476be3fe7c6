import Metrics

/// What an engine reports about its writes: how long each commit took and, where writes share a commit
/// (SQLite's group commit), how many shared it. Nil handles record nothing (metrics off).
public struct StoreMetrics: Sendable {
    public let commitDuration: Metrics.Timer?
    public let batchSize: Recorder?

    public init(commitDuration: Metrics.Timer?, batchSize: Recorder?) {
        self.commitDuration = commitDuration
        self.batchSize = batchSize
    }

    public static let none = StoreMetrics(commitDuration: nil, batchSize: nil)
}
