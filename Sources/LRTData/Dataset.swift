import LRTTensor

/// A labelled set of examples that the trainer and evaluation read in batches (PyTorch's `Dataset`).
public protocol Dataset: Sendable {
    /// The number of examples.
    var count: Int { get }
    /// The label of each example, an index into ``classNames``. [count]
    var labels: [Int32] { get }
    /// The class names; label `i` means `classNames[i]`.
    var classNames: [String] { get }
    /// The shape of one example, e.g. `[height, width, channels]`.
    var exampleShape: [Int] { get }
    /// Writes the examples `indices` into `batch`, `[indices.count] + exampleShape`, reusing its storage when the
    /// size already fits, and their labels into `labels`.
    /// - Parameter generator: the augmentation stream (unused by datasets that do not augment).
    /// - Throws: `DataError` when the examples cannot be read (an ``HDF5CacheDataset`` whose file was truncated or whose
    ///   disk failed); datasets held in memory never throw. `batch`, `labels` and `generator` are then unspecified.
    func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator) throws(DataError)
    /// The file each example was read from, for reports that name them (`lrt eval --errors`); nil when the dataset does
    /// not know (the default). [count]
    var filePaths: [String]? { get }
    /// One epoch's order of the examples, drawn from the data-order stream: a uniform permutation for datasets held in
    /// memory (the default), a chunk-shuffled one for datasets streamed from a file (``HDF5CacheDataset``).
    func epochOrder(using generator: inout SeededGenerator) -> [Int]
    /// Examples `[k·chunkSize, (k+1)·chunkSize)` are read from storage together; 0 (the default): any order is as
    /// cheap as any other.
    var chunkSize: Int { get }
}

extension Dataset {
    public var filePaths: [String]? { nil }
    public func epochOrder(using generator: inout SeededGenerator) -> [Int] { generator.permutation(of: count) }
    public var chunkSize: Int { 0 }

    /// ``fill(_:into:labels:generator:)`` without augmentation (evaluation).
    /// - Throws: `DataError` when the examples cannot be read.
    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32]) throws(DataError) {
        var unused = SeededGenerator(seed: 0)
        try fill(indices, into: &batch, labels: &labels, generator: &unused)
    }

    /// Makes `batch` `[count] + exampleShape`, keeping its storage when the size is unchanged.
    func prepare(_ batch: inout Tensor, count: Int) {
        let shape = [count] + exampleShape
        if batch.count == shape.reduce(1, *) { batch.reshape(shape) } else { batch = Tensor(shape: shape) }
    }
}

/// The examples `indices` of another dataset, in that order (a split).
public struct DatasetSubset: Dataset {
    /// The dataset the examples come from.
    public let base: any Dataset
    /// The positions in ``base`` of this subset's examples. [count]
    public let indices: [Int]
    public let labels: [Int32]
    public var count: Int { indices.count }
    public var classNames: [String] { base.classNames }
    public var exampleShape: [Int] { base.exampleShape }
    public var filePaths: [String]? { base.filePaths.map { paths in indices.map { paths[$0] } } }

    /// A subset with no examples and no classes.
    public static let empty = DatasetSubset(EmptyDataset(), indices: [])

    /// The examples `indices` (each in `0..<base.count`) of `base`.
    public init(_ base: any Dataset, indices: [Int]) {
        precondition(indices.allSatisfy { (0..<base.count).contains($0) }, "subset index out of range")
        self.base = base
        self.indices = indices
        let baseLabels = base.labels
        labels = indices.map { baseLabels[$0] }
    }

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32],
                     generator: inout SeededGenerator) throws(DataError) {
        try base.fill(indices.map { self.indices[$0] }[...], into: &batch, labels: &labels, generator: &generator)
    }

    /// A uniform permutation, or over a streamed base, this subset's examples chunk-shuffled by the base's chunks.
    public func epochOrder(using generator: inout SeededGenerator) -> [Int] {
        let size = base.chunkSize
        guard size > 0 else { return generator.permutation(of: count) }
        var groups: [Int: [Int]] = [:]
        for (position, index) in indices.enumerated() { groups[index / size, default: []].append(position) }
        return ChunkShuffle.order(groups: groups.keys.sorted().map { groups[$0]! }, generator: &generator)
    }

    public var chunkSize: Int { 0 }
}

/// The order of a streamed dataset's epoch: the chunks in a random order, then the examples of every
/// ``windowChunks`` consecutive chunks of that order shuffled together, so that a batch mixes several chunks while
/// only a window of chunks needs to be in memory. Deterministic from the generator's state.
public enum ChunkShuffle {
    /// Chunks whose examples are shuffled together.
    public static let windowChunks = 4

    /// `groups`: the examples of each chunk, in storage order.
    public static func order(groups: [[Int]], generator: inout SeededGenerator) -> [Int] {
        let chunkOrder = generator.permutation(of: groups.count)
        var order: [Int] = []
        order.reserveCapacity(groups.reduce(0) { $0 + $1.count })
        for start in stride(from: 0, to: chunkOrder.count, by: windowChunks) {
            let window = chunkOrder[start..<min(start + windowChunks, chunkOrder.count)].flatMap { groups[$0] }
            order += generator.permutation(of: window.count).map { window[$0] }
        }
        return order
    }
}

/// A dataset with no examples.
private struct EmptyDataset: Dataset {
    var count: Int { 0 }
    var labels: [Int32] { [] }
    var classNames: [String] { [] }
    var exampleShape: [Int] { [0] }
    func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator) {
        precondition(indices.isEmpty, "an empty dataset has no examples")
    }
}

extension ImageFolder {
    public var filePaths: [String]? { imagePaths }
}
