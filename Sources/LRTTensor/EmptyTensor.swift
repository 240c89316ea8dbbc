extension Tensor {
    /// A tensor with no elements, for releasing a cached tensor without allocating.
    public static let empty = Tensor(shape: [0])
}
