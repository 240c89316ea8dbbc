import Foundation
import XCTest
import LRTHDF5
@testable import LRTData
import LRTTensor

/// The image cache, streaming order, prefetching, normalization, class weights and memory budget.
final class DataCacheTests: FixtureTestCase {
    /// A folder of `perClass` random 6×5 RGB images in each of classes a, b, c; returns its listing.
    private func randomFolder(perClass: Int = 7, seed: UInt64 = 5) throws -> ImageListing {
        var generator = SeededGenerator(seed: seed)
        for name in ["a", "b", "c"] {
            for index in 0..<perClass {
                let pixels = (0..<6 * 5 * 3).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                try writeImage("root/\(name)/\(index).png", pixels, height: 6, width: 5, channels: 3)
            }
        }
        return try ImageListing.list(root: path("root"))
    }

    private let preprocessing = Preprocessing(height: 6, width: 5, colorMode: .rgb)

    /// Every batch of `dataset` for `order` in batches of `batchSize`, with the augmentation stream from `seed`.
    private func batches(_ dataset: any Dataset, order: [Int], batchSize: Int = 4) throws -> [[Float]] {
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        var generator = SeededGenerator(seed: 9)
        return try stride(from: 0, to: order.count, by: batchSize).map { start in
            try dataset.fill(order[start..<min(start + batchSize, order.count)], into: &batch, labels: &labels, generator: &generator)
            return batch.storage + labels.map(Float.init)
        }
    }

    // MARK: Cache

    func testCacheRoundTripEqualsInMemoryBatchesBitForBit() throws {
        let listing = try randomFolder()
        let memory = try ImageFolder.load(listing, preprocessing: preprocessing)
        let cached = try XCTUnwrap(ImageCache.prepare(path: path("cache.h5"), folders: [.init(name: "train", listing: listing)],
                                                      preprocessing: preprocessing, skipBadImages: false)["train"])
        XCTAssertEqual(cached.count, 21)
        XCTAssertEqual(cached.labels, memory.labels)
        XCTAssertEqual(cached.imagePaths, memory.imagePaths)
        var generator = SeededGenerator(seed: 1)
        let order = generator.permutation(of: 21)
        XCTAssertEqual(try batches(cached, order: order), try batches(memory, order: order))
        XCTAssertEqual(try cached.loadIntoMemory().pixels, memory.pixels)
        XCTAssertTrue(ImageCache.isCache(path("cache.h5")))
    }

    func testCacheIsReusedWhileTheFilesAreUnchangedAndRebuiltWhenOneChanges() throws {
        var listing = try randomFolder()
        let cachePath = path("cache.h5")
        func prepare() throws -> HDF5CacheDataset {
            try XCTUnwrap(ImageCache.prepare(path: cachePath, folders: [.init(name: "train", listing: listing)],
                                             preprocessing: preprocessing, skipBadImages: false)["train"])
        }
        func inode() throws -> UInt64 { try XCTUnwrap(FileManager.default.attributesOfItem(atPath: cachePath)[.systemFileNumber] as? UInt64) }
        _ = try prepare()
        let first = try inode()
        _ = try prepare()
        XCTAssertEqual(try inode(), first, "an unchanged folder reuses the cache file")
        try writeImage("root/b/3.png", Array(repeating: 200, count: 90), height: 6, width: 5, channels: 3)
        listing = try ImageListing.list(root: path("root"))
        let rebuilt = try prepare()
        XCTAssertNotEqual(try inode(), first, "a changed image rebuilds the cache")
        let index = try XCTUnwrap(rebuilt.imagePaths.firstIndex(of: path("root/b/3.png")))
        XCTAssertEqual(try rebuilt.loadIntoMemory().pixels[index * 90..<(index + 1) * 90], ArraySlice(repeating: 200, count: 90))
        try FileManager.default.removeItem(atPath: path("root/c/0.png"))  // a file removed changes the digest too
        listing = try ImageListing.list(root: path("root"))
        XCTAssertEqual(try prepare().count, 20)
    }

    func testCacheNeverReplacesAFileThatIsNotACache() throws {
        let listing = try randomFolder(perClass: 1)
        try writeBytes("notes.h5", Array("my notes".utf8))
        assertDataError(.cacheFailed, naming: path("notes.h5"), "not an lrt image cache") {
            _ = try ImageCache.prepare(path: self.path("notes.h5"), folders: [.init(name: "train", listing: listing)],
                                       preprocessing: self.preprocessing, skipBadImages: false)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("notes.h5"))), Data("my notes".utf8))
        assertDataError(.cacheFailed, naming: "inside the input folder") {
            _ = try ImageCache.prepare(path: self.path("root/cache.h5"), folders: [.init(name: "train", listing: listing)],
                                       preprocessing: self.preprocessing, skipBadImages: false, inputFolders: [self.path("root")])
        }
    }

    func testCacheKeepsSkippedImagesOutAndTheirReasons() throws {
        _ = try randomFolder(perClass: 2)
        try writeBytes("root/a/1.png", Array("not an image".utf8))
        let listing = try ImageListing.list(root: path("root"), skipBadImages: true)
        assertDataError(.invalidImage, naming: path("root/a/1.png")) {
            _ = try ImageCache.prepare(path: self.path("cache.h5"), folders: [.init(name: "train", listing: listing)],
                                       preprocessing: self.preprocessing, skipBadImages: false)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("cache.h5")), "a failed build leaves no file")
        let memory = try ImageFolder.load(listing, preprocessing: preprocessing, skipBadImages: true)
        for _ in 0..<2 {  // built, then reused
            let cached = try XCTUnwrap(ImageCache.prepare(path: path("cache.h5"), folders: [.init(name: "train", listing: listing)],
                                                          preprocessing: preprocessing, skipBadImages: true)["train"])
            XCTAssertEqual(cached.imagePaths, memory.imagePaths)
            XCTAssertEqual(cached.rejected, memory.rejected)
            XCTAssertEqual(try batches(cached, order: Array(0..<5)), try batches(memory, order: Array(0..<5)))
        }
    }

    // MARK: Streaming order

    func testStreamedOrderIsChunkShuffledDeterministicAndCoversEveryImage() throws {
        let listing = try randomFolder(perClass: 40)
        let cached = try XCTUnwrap(ImageCache.prepare(path: path("cache.h5"), folders: [.init(name: "train", listing: listing)],
                                                      preprocessing: preprocessing, skipBadImages: false, chunkBytes: 900)["train"])
        XCTAssertEqual(cached.chunkSize, 10, "chunks of 900 bytes hold 10 images of 90 bytes")
        var first = SeededGenerator(seed: 4), second = SeededGenerator(seed: 4)
        let order = cached.epochOrder(using: &first)
        XCTAssertEqual(order, cached.epochOrder(using: &second), "deterministic from the generator")
        XCTAssertEqual(first, second)
        XCTAssertEqual(order.sorted(), Array(0..<120))
        XCTAssertNotEqual(order, Array(0..<120))
        for window in stride(from: 0, to: 120, by: 40) {
            XCTAssertEqual(Set(order[window..<window + 40].map { $0 / 10 }).count, ChunkShuffle.windowChunks,
                           "each window mixes exactly \(ChunkShuffle.windowChunks) whole chunks")
        }
        // Streaming in that order reads what the in-memory dataset holds.
        let memory = try ImageFolder.load(listing, preprocessing: preprocessing)
        XCTAssertEqual(try batches(cached, order: order, batchSize: 32), try batches(memory, order: order, batchSize: 32))
        // A subset of a streamed dataset groups its examples by the base's chunks.
        var generator = SeededGenerator(seed: 2)
        let subsetOrder = DatasetSubset(cached, indices: Array(5..<65)).epochOrder(using: &generator)
        XCTAssertEqual(subsetOrder.sorted(), Array(0..<60))
        XCTAssertEqual(Set(subsetOrder[0..<5].map { ($0 + 5) / 10 }).count <= ChunkShuffle.windowChunks, true)
    }

    /// A cache truncated after it was opened (the disk failed, or the file was cut while a run read it): chunks already
    /// read are still served, a chunk read from the file is a `.cacheFailed` error naming the file and the fix, and
    /// reading everything into memory fails the same way; never a trap.
    func testACacheTruncatedWhileOpenIsAnErrorNamingTheFile() throws {
        let listing = try randomFolder()
        let cached = try XCTUnwrap(ImageCache.prepare(path: path("cache.h5"), folders: [.init(name: "train", listing: listing)],
                                                      preprocessing: preprocessing, skipBadImages: false, chunkBytes: 90)["train"])
        XCTAssertEqual(cached.chunkSize, 1, "one 90-byte image per chunk")
        let memory = try ImageFolder.load(listing, preprocessing: preprocessing)
        let before = try batches(cached, order: [3])
        XCTAssertEqual(truncate(path("cache.h5"), 0), 0)
        XCTAssertEqual(try batches(cached, order: [3]), before, "a chunk in memory needs no read")
        XCTAssertEqual(before, try batches(memory, order: [3]))
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        XCTAssertThrowsError(try cached.fill([3, 4], into: &batch, labels: &labels)) { error in
            let error = error as? DataError
            XCTAssertEqual(error?.kind, .cacheFailed)
            XCTAssertEqual(error?.path, path("cache.h5"))
            XCTAssertEqual(error?.description.hasPrefix("the image cache \(path("cache.h5")) could not be read (truncated: it ends before byte "), true,
                           error?.description ?? "not a DataError")
            XCTAssertEqual(error?.description.hasSuffix("the file changed or its disk failed during the run: delete it, and the next run builds it anew"), true,
                           error?.description ?? "")
        }
        XCTAssertThrowsError(try cached.loadIntoMemory()) { XCTAssertEqual(($0 as? DataError)?.kind, .cacheFailed) }
    }

    // MARK: Prefetch

    func testPrefetchedBatchesAreBitIdenticalToDirectFills() throws {
        let listing = try randomFolder()
        let data = AugmentedDataset(try ImageFolder.load(listing, preprocessing: preprocessing),
                                    augmentation: try Augmentation(parsing: "flip,crop,brightness,cutout"))
        var orderGenerator = SeededGenerator(seed: 3)
        let order = orderGenerator.permutation(of: 21)
        let direct = try batches(data, order: order)
        let prefetcher = BatchPrefetcher(data)
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        var generator = SeededGenerator(seed: 9)
        var prefetched: [[Float]] = []
        for start in stride(from: 0, to: 21, by: 4) {
            let end = min(start + 4, 21)
            try prefetcher.fill(order[start..<end], next: order[end..<min(end + 4, 21)], into: &batch, labels: &labels, generator: &generator)
            prefetched.append(batch.storage + labels.map(Float.init))
        }
        XCTAssertEqual(prefetched, direct)
        var directGenerator = SeededGenerator(seed: 9)
        _ = try batches(data, order: order)  // the same fills leave the generator where the prefetcher left it
        var scratch = Tensor(shape: [0])
        for start in stride(from: 0, to: 21, by: 4) {
            try data.fill(order[start..<min(start + 4, 21)], into: &scratch, labels: &labels, generator: &directGenerator)
        }
        XCTAssertEqual(generator, directGenerator)
        // A batch prepared for other examples (or another generator state) is not used.
        var stale = SeededGenerator(seed: 9)
        try prefetcher.fill(order[0..<4], next: order[4..<8], into: &batch, labels: &labels, generator: &stale)
        var jumped = SeededGenerator(seed: 77)
        try prefetcher.fill(order[4..<8], next: nil, into: &batch, labels: &labels, generator: &jumped)
        var expectedGenerator = SeededGenerator(seed: 77)
        var expected = Tensor(shape: [0])
        try data.fill(order[4..<8], into: &expected, labels: &labels, generator: &expectedGenerator)
        XCTAssertEqual(batch, expected)
        XCTAssertEqual(jumped, expectedGenerator)
    }

    /// A dataset whose examples in `failing` cannot be read, as a damaged cache's: a stand-in for a disk failing.
    private struct FailingDataset: Dataset {
        let base: ImageFolder
        let failing: Set<Int>
        var count: Int { base.count }
        var labels: [Int32] { base.labels }
        var classNames: [String] { base.classNames }
        var exampleShape: [Int] { base.exampleShape }
        func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32],
                  generator: inout SeededGenerator) throws(DataError) {
            if let bad = indices.first(where: failing.contains) {
                throw DataError(.cacheFailed, path: "example \(bad)", description: "example \(bad) could not be read")
            }
            base.fill(indices, into: &batch, labels: &labels, generator: &generator)
        }
    }

    /// A batch that fails while prepared in the background is reported by the call that asks for it, with the
    /// dataset's error, and only then: one prepared for examples the caller does not ask for is dropped unseen, and
    /// the prefetcher goes on filling (and preparing) the batches that can be read.
    func testAPrefetchedBatchThatCannotBeReadFailsWhenAskedFor() throws {
        let memory = try ImageFolder.load(try randomFolder(), preprocessing: preprocessing)
        let data = FailingDataset(base: memory, failing: [5])
        let prefetcher = BatchPrefetcher(data)
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        var generator = SeededGenerator(seed: 9)
        try prefetcher.fill([0, 1], next: [4, 5], into: &batch, labels: &labels, generator: &generator)
        XCTAssertEqual(batch.storage + labels.map(Float.init), try batches(memory, order: [0, 1])[0])
        XCTAssertThrowsError(try prefetcher.fill([4, 5], next: [6, 7], into: &batch, labels: &labels, generator: &generator)) {
            XCTAssertEqual("\($0)", "example 5 could not be read")
        }
        // The failed call prepared nothing ahead; a failing batch prepared but not asked for is never reported.
        try prefetcher.fill([0, 1], next: [5, 6], into: &batch, labels: &labels, generator: &generator)
        try prefetcher.fill([6, 7], next: [8, 9], into: &batch, labels: &labels, generator: &generator)
        XCTAssertEqual(batch.storage + labels.map(Float.init), try batches(memory, order: [6, 7])[0])
        try prefetcher.fill([8, 9], next: nil, into: &batch, labels: &labels, generator: &generator)
        XCTAssertEqual(batch.storage + labels.map(Float.init), try batches(memory, order: [8, 9])[0])
    }

    // MARK: Normalization

    func testNormalizationStatisticsMatchNumPy() throws {
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: DecoderReferenceTests.folder + "/../data-references.json"))) as! [String: Any]
        let files = reference["files"] as! [String]
        for (index, name) in files.enumerated() {
            try makeFolder("norm/\(index % 2 == 0 ? "a" : "b")")
            try FileManager.default.copyItem(atPath: DecoderReferenceTests.folder + "/" + name,
                                             toPath: path("norm/\(index % 2 == 0 ? "a" : "b")/\(name)"))
        }
        for (mode, colorMode) in [("rgb", ColorMode.rgb), ("grayscale", .grayscale)] {
            let expected = reference[mode] as! [String: [Double]]
            let data = try ImageFolder.load(try ImageListing.list(root: path("norm")),
                                            preprocessing: Preprocessing(height: 5, width: 7, colorMode: colorMode))
            let measured = try Normalization.measure(data, batchSize: 4)
            XCTAssertEqual(measured.mean.count, expected["mean"]!.count)
            for (value, reference) in zip(measured.mean, expected["mean"]!) { XCTAssertEqual(Double(value), reference, accuracy: 1e-6) }
            for (value, reference) in zip(measured.standardDeviation, expected["std"]!) { XCTAssertEqual(Double(value), reference, accuracy: 1e-6) }
        }
    }

    func testNormalizedBatchesEqualPreprocessingInputsOfEachFile() throws {
        let listing = try randomFolder(perClass: 2)
        var withNormalization = preprocessing
        withNormalization.normalization = try Normalization(mean: [0.25, 0.5, 0.75], standardDeviation: [0.5, 0.25, 0])
        let data = NormalizedDataset(try ImageFolder.load(listing, preprocessing: preprocessing),
                                     normalization: withNormalization.normalization!)
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        try data.fill(Array(0..<6)[...], into: &batch, labels: &labels)
        let expected = try listing.imagePaths.flatMap { withNormalization.inputs(from: try withNormalization.read(fileAt: $0)) }
        XCTAssertEqual(batch.storage, expected)
        let first = try withNormalization.read(fileAt: listing.imagePaths[0]).pixels[0]
        XCTAssertEqual(expected[0], (Float(first) / 255 - 0.25) / 0.5, "(x − mean) / std")
        assertDataError(.invalidArgument, naming: "normalization") {
            _ = try Normalization(mean: [0.5], standardDeviation: [-1])
        }
    }

    // MARK: Class weights and memory budget

    func testClassWeights() throws {
        XCTAssertEqual(try ClassWeighting.balanced.weights(labels: [0, 0, 0, 1, 2, 2], classNames: ["a", "b", "c"]),
                       [Float(6.0 / 9), 2, 1], "n / (classes · count)")
        XCTAssertEqual(try ClassWeighting.named(["b": 2.5], source: "w.json").weights(labels: [0, 1], classNames: ["a", "b"]), [1, 2.5])
        assertDataError(.invalidArgument, naming: "w.json", "'dog'", "a, b") {
            _ = try ClassWeighting.named(["dog": 2], source: "w.json").weights(labels: [0], classNames: ["a", "b"])
        }
    }

    func testMemoryBudgetSizes() throws {
        XCTAssertEqual(try MemoryBudget.parse("2G"), 2 << 30)
        XCTAssertEqual(try MemoryBudget.parse("512M"), 512 << 20)
        XCTAssertEqual(try MemoryBudget.parse("1.5g"), 3 << 29)
        XCTAssertEqual(try MemoryBudget.parse("300KB"), 300 << 10)
        XCTAssertEqual(try MemoryBudget.parse("4096"), 4096)
        for bad in ["", "G", "-1G", "0", "2X", "nanM"] {
            assertDataError(.invalidArgument, naming: "--memory-budget") { _ = try MemoryBudget.parse(bad) }
        }
        XCTAssertEqual(MemoryBudget.format(3 << 29), "1.5 GiB")
        let listing = try randomFolder(perClass: 1)
        assertDataError(.invalidArgument, naming: "3 images", "over the memory budget of 100 bytes", "--cache") {
            _ = try ImageFolder.load(listing, preprocessing: self.preprocessing, memoryBudget: 100)
        }
    }

    func testProgressLineEveryTenthWhenNotATerminal() {
        var lines: [String] = []
        var progress = DecodeProgress(write: { lines.append($0) }, terminal: false)
        for done in stride(from: 4_096, to: 60_000, by: 4_096) + [60_000] { progress.update(done, of: 60_000) }
        XCTAssertEqual(lines.first, "decoding 8,192/60,000 images…")
        XCTAssertEqual(lines.last, "decoding 60,000/60,000 images…")
        XCTAssertEqual(lines.count, 10)
    }
}
