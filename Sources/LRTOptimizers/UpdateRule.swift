import LRTLayers
import LRTTensor

/// A base update rule: a pure function from a parameter's gradient, its value and its
/// slots to the direction `d` of its step and the advanced slots,
/// `(gradient, parameter, slots) -> (direction, slots)`.
///
/// The ``Optimizer`` then moves the parameter by `θ ← θ − t·m_l·d`, where `t` is the
/// scheduled rate and `m_l` the layer-wise factor (the paper's multiplier, a trust ratio),
/// so every rule below is written in PyTorch's form *without* its learning rate: the
/// PyTorch update `θ ← θ − lr·X` becomes `d = X`.
///
/// Rules are values with no hidden state: everything a rule remembers between steps lives
/// in its named slots (``slotNames``), which the optimizer keeps per parameter path and
/// the checkpoint saves as datasets `lrt/optimizer/<slot>/<path>`. Bookkeeping (the step
/// counter, creating slots on first use, walking the layers, weight decay, clipping)
/// lives once in ``Optimizer``.
public protocol UpdateRule: Sendable {
    /// The rule's short name (`sgd`, `adam`).
    var name: String { get }
    /// The rule's hyperparameters, Keras-style: `{"class_name": "Adam", "config": {…}}`.
    var config: JSONValue { get }
    /// The per-parameter state it keeps, e.g. `["momentum"]`; each slot has the parameter's shape.
    var slotNames: [String] { get }
    /// The value every element of slot `index` starts from (0 unless the rule says otherwise).
    func initialSlotValue(_ index: Int) -> Float

    /// Computes the step direction and advances the slots.
    /// - Parameters:
    ///   - gradient: the gradient the rule sees (after clipping and coupled weight decay).
    ///   - parameter: the parameter's current value, same length.
    ///   - slots: this parameter's slots in ``slotNames`` order, updated in place.
    ///   - step: the 1-based number of this update of this parameter.
    ///   - direction: receives `d`, the same length as `gradient`.
    func direction(gradient: UnsafeBufferPointer<Float>, parameter: UnsafeBufferPointer<Float>,
                   slots: SlotBuffers, step: Int, into direction: UnsafeMutableBufferPointer<Float>)
}

extension UpdateRule {
    public func initialSlotValue(_ index: Int) -> Float { 0 }
}

/// One parameter's slots during a step: a mutable buffer per slot, each as long as the parameter.
///
/// Holds at most four slots without allocating.
public struct SlotBuffers {
    public static let capacity = 4
    /// The number of slots.
    public let count: Int
    private let buffers: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>,
                          UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>)

    /// Slots over existing buffers (at most ``capacity``).
    public init(_ slots: [UnsafeMutableBufferPointer<Float>]) {
        precondition(slots.count <= SlotBuffers.capacity, "at most \(SlotBuffers.capacity) slots")
        let empty = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        count = slots.count
        buffers = (slots.count > 0 ? slots[0] : empty, slots.count > 1 ? slots[1] : empty,
                   slots.count > 2 ? slots[2] : empty, slots.count > 3 ? slots[3] : empty)
    }

    private init(count: Int, buffers: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>,
                                       UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>)) {
        self.count = count
        self.buffers = buffers
    }

    /// Slot `index`, in the rule's ``UpdateRule/slotNames`` order.
    public subscript(index: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(index >= 0 && index < count, "slot \(index) of \(count)")
        switch index {
        case 0: return buffers.0
        case 1: return buffers.1
        case 2: return buffers.2
        default: return buffers.3
        }
    }

    /// Calls `body` with buffers over the storage of `tensors`, mutated in place.
    static func with<Result>(_ tensors: inout [Tensor], _ body: (SlotBuffers) -> Result) -> Result {
        precondition(tensors.count <= capacity, "at most \(capacity) slots")
        return tensors.withUnsafeMutableBufferPointer { tensorBuffer in
            collect(tensorBuffer, from: 0, into: SlotBuffers(count: 0, buffers: (.init(start: nil, count: 0),
                    .init(start: nil, count: 0), .init(start: nil, count: 0), .init(start: nil, count: 0))), body)
        }
    }

    private static func collect<Result>(_ tensors: UnsafeMutableBufferPointer<Tensor>, from index: Int,
                                        into slots: SlotBuffers, _ body: (SlotBuffers) -> Result) -> Result {
        if index == tensors.count { return body(slots) }
        return tensors[index].withUnsafeMutableBufferPointer { buffer in
            var buffers = slots.buffers
            switch index {
            case 0: buffers.0 = buffer
            case 1: buffers.1 = buffer
            case 2: buffers.2 = buffer
            default: buffers.3 = buffer
            }
            return collect(tensors, from: index + 1, into: SlotBuffers(count: index + 1, buffers: buffers), body)
        }
    }
}
