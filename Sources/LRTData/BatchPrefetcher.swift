import Dispatch
import LRTTensor

/// Fills a dataset's batches one ahead: while the caller trains on one batch, the next is filled on a background
/// thread into a second buffer (the two buffers alternate, so nothing is allocated per batch once warm).
///
/// Results are bit-identical to calling ``Dataset/fill(_:into:labels:generator:)`` in order: the batch prepared ahead
/// is filled from the augmentation generator as it stands after the current batch, and it is used only when the
/// caller then asks for exactly those examples with exactly that generator state; otherwise it is discarded and the
/// batch filled directly. The caller's generator always ends where a direct fill would leave it, so a checkpoint
/// saved between batches resumes exactly.
///
/// A batch that cannot be filled (`DataError`, e.g. an image cache truncated during the run) is reported by the call
/// that asks for it, as a direct fill would report it: an error met while preparing ahead is kept with that batch and
/// thrown when the caller asks for exactly that batch, and dropped with it otherwise.
public final class BatchPrefetcher: @unchecked Sendable {
    /// The dataset batches come from.
    public let dataset: any Dataset
    /// Whether batches are prepared ahead (false: every batch is filled directly).
    public let prefetches: Bool
    /// Seconds the caller spent in ``fill(_:next:into:labels:generator:)``: waiting for a batch prepared ahead, or
    /// filling one itself (the loader's share of the caller's time).
    public private(set) var waitSeconds = 0.0
    /// Seconds spent filling batches, on either thread (the loader's work, hidden when it overlaps training).
    public private(set) var fillSeconds = 0.0

    /// A batch being filled in the background; its fields are read only after `done` is waited for.
    private final class Job: @unchecked Sendable {
        let indices: [Int]
        let startGenerator: SeededGenerator
        var generator: SeededGenerator
        var batch: Tensor
        var labels: [Int32]
        var seconds = 0.0
        /// Why the batch could not be filled, if it could not.
        var error: DataError?
        let done = DispatchGroup()
        init(indices: [Int], generator: SeededGenerator, batch: Tensor, labels: [Int32]) {
            (self.indices, startGenerator, self.generator, self.batch, self.labels) = (indices, generator, generator, batch, labels)
        }
    }

    private let queue = DispatchQueue(label: "lrt.batch-prefetch", qos: .userInitiated)
    private var pending: Job?
    private var spareBatch = Tensor(shape: [0])
    private var spareLabels: [Int32] = []

    /// - Parameter prefetches: prepare the next batch in the background (default true).
    public init(_ dataset: any Dataset, prefetches: Bool = true) {
        self.dataset = dataset
        self.prefetches = prefetches
    }

    deinit { pending?.done.wait() }

    /// Fills `batch` and `labels` with the examples `indices` as ``Dataset/fill(_:into:labels:generator:)`` would,
    /// advancing `generator` the same way, then starts preparing `next` (the batch the caller will ask for next;
    /// nil or empty: none).
    /// - Throws: the dataset's `DataError` when the examples `indices` cannot be read; nothing is prepared ahead then.
    public func fill(_ indices: ArraySlice<Int>, next: ArraySlice<Int>?, into batch: inout Tensor, labels: inout [Int32],
                     generator: inout SeededGenerator) throws(DataError) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        var filled = false
        if let job = pending {
            job.done.wait()
            pending = nil
            fillSeconds += job.seconds
            if job.startGenerator == generator, job.indices.elementsEqual(indices) {
                if let error = job.error {
                    (spareBatch, spareLabels) = (job.batch, job.labels)
                    throw error
                }
                swap(&batch, &job.batch)
                swap(&labels, &job.labels)
                generator = job.generator
                filled = true
            }
            (spareBatch, spareLabels) = (job.batch, job.labels)
        }
        if !filled {
            try dataset.fill(indices, into: &batch, labels: &labels, generator: &generator)
            fillSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        }
        guard prefetches, let next, !next.isEmpty else { return }
        let job = Job(indices: Array(next), generator: generator, batch: spareBatch, labels: spareLabels)
        (spareBatch, spareLabels) = (Tensor(shape: [0]), [])
        let dataset = self.dataset
        queue.async(group: job.done) {
            let started = DispatchTime.now().uptimeNanoseconds
            do throws(DataError) { try dataset.fill(job.indices[...], into: &job.batch, labels: &job.labels, generator: &job.generator) } catch {
                job.error = error
            }
            job.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        }
        pending = job
    }
}
