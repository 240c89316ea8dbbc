import Foundation
import XCTest
@testable import LRTTensor

final class ParallelTests: XCTestCase {
    /// oneDNN brings libgomp into the process, and the shards run on its team.
    func testShardsRunOnTheOpenMPTeam() {
        XCTAssertNotNil(OpenMPTeam.shared, "libgomp should be loaded with oneDNN")
    }

    /// Every item is visited exactly once, in contiguous shards with distinct shard numbers below `shardCount`.
    func testEveryItemOnceInContiguousShards() {
        for count in [1, 2, 3, 7, 100, 1001] {
            let shards = Parallel.shardCount(for: count)
            let visits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
            let shardOfItem = UnsafeMutablePointer<Int>.allocate(capacity: count)
            defer { visits.deallocate(); shardOfItem.deallocate() }
            visits.initialize(repeating: 0, count: count)
            Parallel.forEachShard(count: count) { shard, items in
                XCTAssertLessThan(shard, Parallel.shardCount)
                XCTAssertEqual(items, Parallel.range(ofShard: shard, shards: shards, count: count))
                for item in items {
                    visits[item] += 1
                    shardOfItem[item] = shard
                }
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: visits, count: count)), Array(repeating: 1, count: count), "count \(count)")
            XCTAssertEqual(Set(UnsafeBufferPointer(start: shardOfItem, count: count)).count, shards)
        }
    }

    /// A parallel loop inside a shard (a team of one) still runs all of its shards.
    func testNestedLoopsRunEveryShard() {
        let total = UnsafeMutablePointer<Int>.allocate(capacity: Parallel.shardCount)
        defer { total.deallocate() }
        total.initialize(repeating: 0, count: Parallel.shardCount)
        Parallel.forEachShard(count: 64) { outer, _ in
            var inner = 0
            let lock = NSLock()
            Parallel.forEachShard(count: 64) { _, items in
                lock.lock()
                inner += items.count
                lock.unlock()
            }
            total[outer] = inner
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: total, count: Parallel.shardCount)),
                       Array(repeating: 64, count: Parallel.shardCount))
    }
}

final class OneDNNTests: XCTestCase {
    /// oneDNN's forward and backward convolution agree with naive products over im2col, and it is
    /// the preferred backend unless `LRT_KERNELS` names another (the suite also runs with `LRT_KERNELS=blas`).
    func testConvolutionSelfCheckPasses() throws {
        let error = try XCTUnwrap(try OneDNNKernels.selfCheck(), "oneDNN should run on this machine")
        XCTAssertLessThan(error, 1e-5)
        let requested = ProcessInfo.processInfo.environment[KernelBackend.environmentVariable]
            .flatMap { KernelBackend(rawValue: $0.lowercased()) }
        XCTAssertEqual(KernelBackend.preferred, requested ?? .oneDNN)
    }
}
