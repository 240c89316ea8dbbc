import Foundation
import LRTLayers

#if canImport(Glibc)
import Glibc
#endif

/// The memory a training run needs, estimated before the large allocations, so that a model
/// or batch too large for the machine is refused with the numbers and a fix instead of ending
/// in `Fatal error: failed to allocate` (SIGABRT) hours or seconds later.
///
/// The estimate counts float32 values: the weights, one gradient per trainable weight, the
/// optimizer's slots per trainable weight (momentum 1, Adam 2), the activations of a batch
/// (each layer's output, its input gradient and a cache, 3 values per output value), and the
/// decoded images (float32 pixels, train and test), and the checkpoint a save builds in memory
/// (the weights and slots twice: HDF5's in-memory file and the image written to disk).
public struct ResourceEstimate: Sendable, Equatable {
    /// Bytes of all weights.
    public var weightBytes: Int
    /// Bytes of the gradients of the trainable weights.
    public var gradientBytes: Int
    /// Bytes of the optimizer's slots.
    public var optimizerBytes: Int
    /// Bytes of the activations, gradients and caches of one batch.
    public var activationBytes: Int
    /// Bytes of the decoded dataset.
    public var datasetBytes: Int
    /// Bytes a save holds while it runs: the checkpoint twice.
    public var saveBytes: Int
    /// Memory kept free for what the estimate does not itemize (thread stacks and arenas,
    /// kernel scratch buffers): 256 MiB.
    public static let reserveBytes = 256 << 20

    /// Everything the run holds at once.
    public var totalBytes: Int {
        [gradientBytes, optimizerBytes, activationBytes, datasetBytes, saveBytes].reduce(weightBytes) { total, part in
            let (sum, overflow) = total.addingReportingOverflow(part)
            return overflow ? .max : sum
        }
    }
    /// What is still to be allocated once the model exists (its weights are already in memory).
    public var remainingBytes: Int { totalBytes - weightBytes }

    /// Estimates a run of `model` with batches of `batchSize`, an optimizer keeping
    /// `optimizerSlots` values per trainable weight, and `imageCount` decoded images.
    public init(model: any Model, batchSize: Int, optimizerSlots: Int, imageCount: Int) {
        let floatBytes = MemoryLayout<Float>.size
        let weights = model.weights.reduce(0) { $0 + $1.value.count }
        let trainable = model.parameters.reduce(0) { $0 + $1.value.count }
        let exampleSize = model.inputShape.reduce(1, *)
        let activations = model.layers.map(\.outputShape).reduce(exampleSize) { $0 + $1.reduce(1, *) }
        weightBytes = weights.multipliedClamped(by: floatBytes)
        gradientBytes = trainable.multipliedClamped(by: floatBytes)
        optimizerBytes = trainable.multipliedClamped(by: optimizerSlots).multipliedClamped(by: floatBytes)
        activationBytes = activations.multipliedClamped(by: batchSize).multipliedClamped(by: 3 * floatBytes)
        datasetBytes = imageCount.multipliedClamped(by: exampleSize).multipliedClamped(by: floatBytes)
        saveBytes = (weights + trainable.multipliedClamped(by: optimizerSlots)).multipliedClamped(by: 2 * floatBytes)
    }

    /// Creates an estimate from its parts (for tests and reports).
    public init(weightBytes: Int, gradientBytes: Int, optimizerBytes: Int, activationBytes: Int, datasetBytes: Int,
                saveBytes: Int) {
        self.saveBytes = saveBytes
        self.weightBytes = weightBytes
        self.gradientBytes = gradientBytes
        self.optimizerBytes = optimizerBytes
        self.activationBytes = activationBytes
        self.datasetBytes = datasetBytes
    }

    /// The memory this process may still allocate, and what limits it.
    public struct Available: Sendable, Equatable {
        /// Bytes that may still be allocated.
        public var bytes: Int
        /// What sets the limit, for the message (`"ulimit -v"`, `"free memory"`).
        public var limitedBy: String

        /// Creates a limit.
        public init(bytes: Int, limitedBy: String) {
            self.bytes = bytes
            self.limitedBy = limitedBy
        }

        /// The smallest of: the address-space and data limits (`ulimit -v`, `ulimit -d`) minus
        /// what this process maps already, the cgroup's `memory.max` minus its use, and the
        /// machine's available memory plus free swap (`/proc/meminfo`). Nil when none is known.
        public static func current() -> Available? {
            var candidates: [Available] = []
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ")
            let mapped = (statm?.first.flatMap { Int($0) } ?? 0) * pageSize
            let resident = (statm.flatMap { $0.count > 1 ? Int($0[1]) : nil } ?? 0) * pageSize
            for (resource, name, used) in [(RLIMIT_AS, "ulimit -v", mapped), (RLIMIT_DATA, "ulimit -d", resident)] {
                var limit = rlimit()
                if getrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0,
                   limit.rlim_cur < UInt64(Int.max) {
                    candidates.append(Available(bytes: max(0, Int(limit.rlim_cur) - used), limitedBy: name))
                }
            }
            if let maximum = readNumber("/sys/fs/cgroup/memory.max"), let current = readNumber("/sys/fs/cgroup/memory.current") {
                candidates.append(Available(bytes: max(0, maximum - current), limitedBy: "the cgroup's memory.max"))
            }
            if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
                var fields: [String: Int] = [:]
                for line in meminfo.split(separator: "\n") {
                    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                    if parts.count >= 2, let kilobytes = Int(parts[1]) { fields[String(parts[0].dropLast())] = kilobytes * 1024 }
                }
                if let available = fields["MemAvailable"] {
                    candidates.append(Available(bytes: available + (fields["SwapFree"] ?? 0), limitedBy: "the machine's free memory and swap"))
                }
            }
            return candidates.min { $0.bytes < $1.bytes }
        }

        private static func readNumber(_ path: String) -> Int? {
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    /// Refuses the run when what remains to be allocated, plus ``reserveBytes``, exceeds `available`.
    ///
    /// - Parameter batchSize: the batch size, for the fix.
    /// - Throws: ``TrainingError`` with the estimate, its parts, the limit and a fix.
    public func check(against available: Available?, batchSize: Int) throws {
        guard let available, remainingBytes > available.bytes - Self.reserveBytes else { return }
        let parts = [("weights", weightBytes), ("gradients", gradientBytes), ("optimizer state", optimizerBytes),
                     ("activations for batches of \(batchSize)", activationBytes), ("images", datasetBytes),
                     ("saving", saveBytes)]
            .filter { $0.1 > 0 }.map { "\($0.0) \(Self.format($0.1))" }.joined(separator: ", ")
        let largest = max(activationBytes, datasetBytes) > gradientBytes + optimizerBytes + saveBytes
            ? "a smaller --batch-size or dataset" : "a smaller model (fewer or narrower layers)"
        throw TrainingError.insufficientMemory("this run needs about \(Self.format(totalBytes)) of memory (\(parts); plus \(Self.format(Self.reserveBytes)) kept free) but only \(Self.format(available.bytes + weightBytes)) is available (limited by \(available.limitedBy)); use \(largest), or raise the limit")
    }

    /// The most weights a model may allocate while it is built: each takes 4 bytes and so does its
    /// gradient, and ``reserveBytes`` stay free. The full estimate, after the model is built, adds
    /// the optimizer's slots, activations and images.
    public static func weightLimit(_ available: Available?) -> ModelConfig.WeightLimit {
        guard let available else { return .format }
        let bytes = max(0, available.bytes - reserveBytes)
        return ModelConfig.WeightLimit(count: min(bytes / 8, ModelConfig.maximumModelWeights),
                                       reason: "\(available.limitedBy) (\(format(available.bytes)) available)")
    }

    /// `1.5 GB`, `300 MB`, `12 KB`.
    static func format(_ bytes: Int) -> String {
        let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
        for (size, unit) in units where Double(bytes) >= size {
            return String(format: Double(bytes) >= 10 * size ? "%.0f %@" : "%.1f %@", Double(bytes) / size, unit)
        }
        return "\(bytes) bytes"
    }

    /// The PNG files under `root` (recursively, hidden ones excepted): the images a dataset
    /// folder will decode, counted before any is decoded.
    public static func countImages(under root: String) -> Int {
        guard let enumerator = FileManager.default.enumerator(
            at: URL(fileURLWithPath: root), includingPropertiesForKeys: nil, options: [.skipsHiddenFiles]) else { return 0 }
        var count = 0
        for case let url as URL in enumerator where url.pathExtension.lowercased() == "png" { count += 1 }
        return count
    }
}

private extension Int {
    /// The product, or `Int.max` when it overflows (an estimate beyond any machine).
    func multipliedClamped(by other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
