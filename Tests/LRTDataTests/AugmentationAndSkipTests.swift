import Foundation
import XCTest
@testable import LRTData
import LRTTensor

final class AugmentationAndSkipTests: FixtureTestCase {
    // MARK: --on-bad-image skip

    func testSkipLeavesOutBadImagesAndNamesEachWithItsReason() throws {
        for index in 0..<3 { try writeImage("root/a/\(index).png", value: UInt8(10 + index)) }
        try writeImage("root/b/0.png", value: 50)
        try writeBytes("root/a/1.png", Array("not an image".utf8))  // replaces a good one
        try writeBytes("root/b/empty.jpg", [])
        XCTAssertEqual(mkfifo(path("root/b/pipe.png"), 0o644), 0)
        assertDataError(.notARegularFile, naming: path("root/b/pipe.png")) {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1)
        }
        let data = try ImageFolder.load(root: path("root"), height: 2, width: 3, channels: 1, skipBadImages: true)
        XCTAssertEqual(data.imagePaths, ["root/a/0.png", "root/a/2.png", "root/b/0.png"].map(path))
        XCTAssertEqual(data.labels, [0, 0, 1])
        XCTAssertEqual(stride(from: 0, to: data.pixels.count, by: 6).map { data.pixels[$0] }, [10, 12, 50])
        XCTAssertEqual(data.rejected.map(\.path), ["root/b/pipe.png", "root/a/1.png", "root/b/empty.jpg"].map(path))
        XCTAssertEqual(data.rejected.map(\.kind), [.notARegularFile, .invalidImage, .invalidImage])
    }

    func testSkipStillRefusesAClassLeftWithoutImages() throws {
        try writeImage("root/a/0.png")
        try writeBytes("root/b/0.png", [1, 2, 3])
        assertDataError(.noImages, naming: path("root/b"), "no readable images") {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1, skipBadImages: true)
        }
    }

    // MARK: --augment

    func testParsingKeepsTheDocumentedOrderAndNamesBadEntries() throws {
        XCTAssertEqual(try Augmentation(parsing: "cutout, flip,crop").kinds, [.flip, .crop, .cutout])
        XCTAssertEqual(try Augmentation(parsing: "crop,flip").description, "flip,crop")
        for bad in ["flip,flip", "zoom", "flip,", ""] {
            assertDataError(.invalidArgument, naming: "--augment") { _ = try Augmentation(parsing: bad) }
        }
    }

    /// A [4, 6, 1] ramp: value = column + 10·row, scaled to [0, 1].
    private func ramp() -> [Float] { (0..<24).map { Float($0 % 6 + 10 * ($0 / 6)) / 100 } }

    func testEachKindChangesTheImageAsDocumented() throws {
        var changed = Set<Augmentation.Kind>()
        for kind in Augmentation.Kind.allCases {
            let augmentation = try Augmentation(parsing: kind.rawValue)
            var generator = SeededGenerator(seed: 3)
            for _ in 0..<8 {
                var image = ramp()
                image.withUnsafeMutableBufferPointer { augmentation.apply(to: $0, height: 4, width: 6, channels: 1, generator: &generator) }
                XCTAssertTrue(image.allSatisfy { (0...1).contains($0) }, "\(kind) left [0, 1]: \(image)")
                if image != ramp() { changed.insert(kind) }
                if kind == .flip, image != ramp() { XCTAssertEqual(image, (0..<24).map { ramp()[($0 / 6) * 6 + 5 - $0 % 6] }) }
            }
        }
        XCTAssertEqual(changed, Set(Augmentation.Kind.allCases), "every kind changes some of 8 draws")
    }

    func testAugmentedBatchesAreReproducibleFromTheStreamAndDifferAcrossDraws() throws {
        for index in 0..<4 { try writeImage("root/a/\(index).png", (0..<64).map { UInt8($0 * 4) }, height: 8, width: 8, channels: 1) }
        let data = try ImageFolder.load(root: path("root"), height: 8, width: 8, channels: 1)
        let augmented = AugmentedDataset(data, augmentation: try Augmentation(parsing: "flip,crop,rotate,cutout"))
        func draw(_ generator: inout SeededGenerator) throws -> [Float] {
            var batch = Tensor(shape: [0]), labels: [Int32] = []
            try augmented.fill([0, 1, 2, 3], into: &batch, labels: &labels, generator: &generator)
            return batch.withUnsafeBufferPointer(Array.init)
        }
        var first = SeededGenerator(seed: 9), second = SeededGenerator(seed: 9)
        let batch = try draw(&first)
        XCTAssertEqual(try draw(&second), batch, "same stream state, same batch")
        XCTAssertEqual(first, second)
        XCTAssertNotEqual(try draw(&first), batch, "the stream moved on")
        var plain = Tensor(shape: [0]), labels: [Int32] = []
        try data.fill([0, 1, 2, 3], into: &plain, labels: &labels)
        XCTAssertNotEqual(plain.withUnsafeBufferPointer(Array.init), batch)
    }
}
