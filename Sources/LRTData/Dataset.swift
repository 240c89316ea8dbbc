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
    func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator)
    /// The file each example was read from, for reports that name them (`lrt eval --errors`); nil when the dataset does
    /// not know (the default). [count]
    var filePaths: [String]? { get }
}

extension Dataset {
    public var filePaths: [String]? { nil }

    /// ``fill(_:into:labels:generator:)`` without augmentation (evaluation).
    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32]) {
        var unused = SeededGenerator(seed: 0)
        fill(indices, into: &batch, labels: &labels, generator: &unused)
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

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator) {
        base.fill(indices.map { self.indices[$0] }[...], into: &batch, labels: &labels, generator: &generator)
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
