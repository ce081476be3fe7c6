import CoreMetrics
import Prometheus

/// swift-metrics' factory over a swift-prometheus registry, like `PrometheusMetricsFactory`, but every metric
/// gets its `# HELP` line (from ``ServerMetrics/catalog``) and, for timers and aggregated recorders, the
/// buckets given there. Prometheus's own `promtool check metrics` refuses an exposition without help texts.
struct DescribedPrometheusFactory: MetricsFactory {
    struct Description: Sendable {
        let help: String
        /// nil: ``ServerMetrics/latencyBuckets``.
        var durationBuckets: [Duration]? = nil
        /// nil: 1 to 500 in 1-2-5 steps.
        var valueBuckets: [Double]? = nil
    }

    static let defaultValueBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500]

    let registry: PrometheusCollectorRegistry
    let descriptions: [String: Description]

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: self.descriptions[label]?.help ?? label)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        self.registry.makeCounter(descriptor: self.descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        self.registry.makeCounter(descriptor: self.descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return self.registry.makeGauge(descriptor: self.descriptor(label), labels: dimensions) }
        return self.registry.makeValueHistogram(
            descriptor: self.descriptor(label), labels: dimensions,
            buckets: self.descriptions[label]?.valueBuckets ?? Self.defaultValueBuckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        self.registry.makeGauge(descriptor: self.descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        self.registry.makeDurationHistogram(
            descriptor: self.descriptor(label), labels: dimensions,
            buckets: self.descriptions[label]?.durationBuckets ?? ServerMetrics.latencyBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { self.registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { self.registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { self.registry.unregisterGauge(gauge) }
        if let histogram = handler as? Histogram<Double> { self.registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { self.registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Histogram<Duration> { self.registry.unregisterDurationHistogram(histogram) }
    }
}
