import Foundation

/// The processes of a data-parallel run and the collective operations between them (an MPI
/// communicator). Every rank calls every collective, in the same order, with buffers of the same
/// length; a collective returns when all ranks have contributed.
public protocol Communicator: AnyObject {
    /// This process's index, `0..<size`; rank 0 alone prints, logs and writes checkpoints.
    var rank: Int { get }
    /// The number of processes in the run.
    var size: Int { get }
    /// What the run is doing (`step 12 of epoch 2`), named by an error or a timeout of the next collective.
    var activity: String { get set }
    /// Seconds a collective may wait for the other ranks before the job is stopped (0: forever).
    var collectiveTimeout: Double { get set }
    /// Replaces every element by its sum over all ranks.
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws(CommunicatorError)
    /// Replaces every element by its sum over all ranks.
    func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws(CommunicatorError)
    /// Replaces every element by its maximum over all ranks.
    func allreduceMaximum(_ values: UnsafeMutableBufferPointer<Double>) throws(CommunicatorError)
    /// Replaces `values` on every rank by rank `root`'s (the length must agree).
    func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int) throws(CommunicatorError)
    /// Returns when every rank has called it.
    func barrier() throws(CommunicatorError)
}

/// Runs `body` on the storage of `values`, carrying its typed error out of the (untyped) closure.
func withBuffer<Element>(_ values: inout [Element],
                         _ body: (UnsafeMutableBufferPointer<Element>) throws(CommunicatorError) -> Void) throws(CommunicatorError) {
    var failure: CommunicatorError?
    values.withUnsafeMutableBufferPointer { buffer in
        do throws(CommunicatorError) { try body(buffer) } catch { failure = error }
    }
    if let failure { throw failure }
}

extension Communicator {
    /// Sums an array element-wise over all ranks.
    public func allreduceSum(_ values: inout [Double]) throws(CommunicatorError) {
        try withBuffer(&values) { buffer throws(CommunicatorError) in try allreduceSum(buffer) }
    }

    /// Sums an array element-wise over all ranks.
    public func allreduceSum(_ values: inout [Float]) throws(CommunicatorError) {
        try withBuffer(&values) { buffer throws(CommunicatorError) in try allreduceSum(buffer) }
    }

    /// Replaces every element by its maximum over all ranks.
    public func allreduceMaximum(_ values: inout [Double]) throws(CommunicatorError) {
        try withBuffer(&values) { buffer throws(CommunicatorError) in try allreduceMaximum(buffer) }
    }

    /// Replaces `values` on every rank by rank `root`'s.
    public func broadcast(_ values: inout [Float], from root: Int) throws(CommunicatorError) {
        try withBuffer(&values) { buffer throws(CommunicatorError) in try broadcast(buffer, from: root) }
    }

    /// Whether any rank passes true (a stop request from one rank stops them all).
    public func anyRank(_ flag: Bool) throws(CommunicatorError) -> Bool {
        guard size > 1 else { return flag }
        var value = [flag ? 1.0 : 0.0]
        try allreduceMaximum(&value)
        return value[0] > 0
    }

    /// The part of `range` (positions in a global batch) this rank takes: contiguous shards in rank
    /// order whose sizes differ by at most one, the first `count % size` ranks one longer.
    public func shard(of range: Range<Int>) -> Range<Int> {
        Self.shard(of: range, rank: rank, size: size)
    }

    /// The part of `range` that rank `rank` of `size` takes (see ``shard(of:)``).
    public static func shard(of range: Range<Int>, rank: Int, size: Int) -> Range<Int> {
        precondition(size >= 1 && (0..<size).contains(rank))
        let base = range.count / size, extra = range.count % size
        let start = range.lowerBound + rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }
}

/// A run of one process: every collective returns its input.
public final class SingleProcessCommunicator: Communicator {
    public let rank = 0
    public let size = 1
    public var activity = ""
    public var collectiveTimeout = 0.0

    public init() {}

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws(CommunicatorError) {}
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws(CommunicatorError) {}
    public func allreduceMaximum(_ values: UnsafeMutableBufferPointer<Double>) throws(CommunicatorError) {}
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, from root: Int) throws(CommunicatorError) {}
    public func barrier() throws(CommunicatorError) {}
}

/// A collective that failed, or a run that cannot start over MPI: each names the rank and what it was doing.
public enum CommunicatorError: Error, CustomStringConvertible, Equatable {
    /// An MPI call returned an error code (a rank died, the network failed).
    case failed(operation: String, rank: Int, size: Int, activity: String, message: String)
    /// MPI could not start (`MPI_Init_thread` failed).
    case cannotStart(String)

    public var description: String {
        switch self {
        case .failed(let operation, let rank, let size, let activity, let message):
            let during = activity.isEmpty ? "" : " during \(activity)"
            return "rank \(rank) of \(size): \(operation)\(during) failed: \(message); another rank probably stopped (see mpirun's message above); resume from the last checkpoint with `lrt resume`"
        case .cannotStart(let message): return "cannot start MPI: \(message)"
        }
    }
}
