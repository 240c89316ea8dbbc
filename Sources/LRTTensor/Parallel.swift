import CBLAS
import Dispatch
import Foundation

/// Data-parallel loops: a batch split into one contiguous shard per core, run on oneDNN's
/// OpenMP thread team (``OpenMPTeam``), or on Dispatch where libgomp is absent.
///
/// Inside the shards BLAS runs single-threaded. The shards already occupy every
/// core, and OpenBLAS's own threads would only compete with them (and keep
/// spinning after each call); PyTorch's `at::parallel_for` makes the same choice.
/// The setting is process-wide while a loop runs, so BLAS calls made meanwhile by
/// other threads run single-threaded too.
/// Splitting the batch also keeps each shard's working set (an im2col chunk, its
/// product) in that core's cache, which one large multi-threaded product does not.
public enum Parallel {
    /// The number of shards work is split into: one per active core.
    public static let shardCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// The shards `forEachShard(count:minimumSize:_:)` uses for `count` items.
    public static func shardCount(for count: Int, minimumSize: Int = 1) -> Int {
        max(1, min(shardCount, count / max(minimumSize, 1)))
    }

    /// The fewest items worth a shard of their own when each costs about
    /// `workPerItem` simple operations: a shard should run for some tens of
    /// microseconds, well above the cost of waking a thread.
    public static func minimumShardSize(workPerItem: Int) -> Int {
        max(1, (1 << 16) / max(workPerItem, 1))
    }

    /// The items of shard `shard` out of `shards` for `count` items: contiguous, sizes differing by at most one.
    @inlinable
    public static func range(ofShard shard: Int, shards: Int, count: Int) -> Range<Int> {
        (count * shard / shards)..<(count * (shard + 1) / shards)
    }

    /// Calls `body(shard, items)` for each shard of `0..<count`, concurrently.
    ///
    /// - Parameters:
    ///   - count: the number of items (usually examples of a batch).
    ///   - minimumSize: the fewest items worth a shard of their own (default 1);
    ///     fewer items run inline on the calling thread as shard 0.
    ///   - body: the work for one shard. Shards run at the same time, so each must
    ///     write only memory no other shard touches (its own items, its own scratch
    ///     buffer indexed by `shard`, which is below ``shardCount``). A loop inside a
    ///     shard runs all its shards on that shard's thread, numbered from 0 again, so
    ///     it must not share the outer loop's per-shard scratch buffers.
    public static func forEachShard(count: Int, minimumSize: Int = 1,
                                    _ body: (_ shard: Int, _ items: Range<Int>) -> Void) {
        let shards = shardCount(for: count, minimumSize: minimumSize)
        // Single-threaded BLAS even for one shard: work too small to split is too small
        // for BLAS threads too, and waking them would leave them spinning against the
        // next layer's shards.
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        if shards == 1 {
            body(0, 0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            if let team = OpenMPTeam.shared {
                team.run(shards: shards) { shard in body(shard, range(ofShard: shard, shards: shards, count: count)) }
                return
            }
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: shards) { shard in
                shared.value(shard, range(ofShard: shard, shards: shards, count: count))
            }
        }
    }
}

/// The OpenMP thread team oneDNN runs on (libgomp, loaded with oneDNN), found at run time.
///
/// oneDNN's threads keep spinning for a while after each primitive, waiting for more work; shards
/// on other threads (Dispatch's) would compete with them for the same cores. Running the shards
/// on that same team gives every core exactly one busy thread.
public final class OpenMPTeam: @unchecked Sendable {  // immutable: three C function pointers
    private typealias Parallel = @convention(c) (
        @convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void
    private typealias Query = @convention(c) () -> Int32
    /// `GOMP_parallel(function, data, threads, flags)`: runs `function(data)` on a team of `threads`.
    private let parallel: Parallel
    private let threadNumber: Query
    private let teamSize: Query

    /// The team, or nil when libgomp is not in the process (then Dispatch runs the shards).
    static let shared: OpenMPTeam? = OpenMPTeam()

    /// Whether ``Parallel`` runs its shards on this team.
    public static var isAvailable: Bool { shared != nil }

    private init?() {
        guard let parallel = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "GOMP_parallel"),
              let threadNumber = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_get_thread_num"),
              let teamSize = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_get_num_threads")
        else { return nil }
        self.parallel = unsafeBitCast(parallel, to: Parallel.self)
        self.threadNumber = unsafeBitCast(threadNumber, to: Query.self)
        self.teamSize = unsafeBitCast(teamSize, to: Query.self)
    }

    /// Calls `body(shard)` for every shard below `shards`, each exactly once, on the team's threads
    /// (a team smaller than `shards`, as inside another parallel region, takes several each).
    func run(shards: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var context = (team: self, shards: shards, body: body)
            withUnsafeMutablePointer(to: &context) { pointer in
                parallel({ raw in
                    let context = raw!.assumingMemoryBound(to: (team: OpenMPTeam, shards: Int, body: (Int) -> Void).self).pointee
                    let thread = Int(context.team.threadNumber()), size = Int(context.team.teamSize())
                    for shard in stride(from: thread, to: context.shards, by: max(size, 1)) { context.body(shard) }
                }, pointer, UInt32(shards), 0)
            }
        }
    }
}

/// Hands a value to concurrent shards; ``Parallel/forEachShard(count:minimumSize:_:)`` documents the rule that makes it safe.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
