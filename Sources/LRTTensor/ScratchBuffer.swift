/// Working memory a layer keeps between steps (im2col columns, per-shard partial
/// sums, pooling arg-max positions), so the training loop allocates nothing.
///
/// It grows when asked for more than it holds and never shrinks; its contents
/// are undefined after growing. Not for sharing between layers.
public final class ScratchBuffer<Element> {
    private var storage: UnsafeMutablePointer<Element>?
    /// The number of elements it holds now.
    public private(set) var capacity = 0

    public init() {}

    deinit { storage?.deallocate() }

    /// At least `count` elements of memory, valid until the next call that grows it.
    public func pointer(count: Int) -> UnsafeMutablePointer<Element> {
        precondition(count >= 0)
        if count > capacity || storage == nil {
            storage?.deallocate()
            storage = UnsafeMutablePointer<Element>.allocate(capacity: max(count, 1))
            capacity = max(count, 1)
        }
        return storage!
    }
}
