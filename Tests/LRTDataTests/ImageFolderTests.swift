import Foundation
import XCTest
@testable import LRTData
import LRTTensor

final class ImageFolderTests: FixtureTestCase {
    func testClassesAndFilesAreSortedAndHiddenOrNonPNGEntriesSkipped() throws {
        // Each image's byte value tells where it must land.
        try writeImage("root/b/2.png", value: 40)
        try writeImage("root/b/10.png", value: 30)
        try writeImage("root/a/x.PNG", value: 20)
        try writeImage("root/B/only.png", value: 10)
        try writeImage("root/b/.hidden.png", value: 99)
        try writeImage("root/.cache/y.png", value: 99)
        try writeBytes("root/b/notes.txt", Array("ignored".utf8))
        try writeBytes("root/README.md", Array("ignored".utf8))
        try makeFolder("root/a/folder.png")

        let data = try ImageFolder.load(root: path("root"), height: 2, width: 3, channels: 1)
        XCTAssertEqual(data.classNames, ["B", "a", "b"])
        XCTAssertEqual(data.imagePaths, ["root/B/only.png", "root/a/x.PNG", "root/b/10.png", "root/b/2.png"].map(path))
        XCTAssertEqual(data.labels, [0, 1, 2, 2])
        XCTAssertEqual(data.count, 4)
        XCTAssertEqual(data.root, path("root"))
        XCTAssertEqual([data.height, data.width, data.channels], [2, 3, 1])
        XCTAssertEqual(data.pixels.count, 4 * 2 * 3 * 1)
        let firstOfEachImage = stride(from: 0, to: data.pixels.count, by: 6).map { data.pixels[$0] }
        XCTAssertEqual(firstOfEachImage, [10, 20, 30, 40])
        XCTAssertEqual(data.skipped.count, 2)
        XCTAssertEqual(data.skipped.examples, ["root/README.md", "root/b/notes.txt"].map(path))
    }

    func testPixelsAreHeightWidthChannelsOrderedAndScaledToUnitRange() throws {
        let bytes: [UInt8] = [0, 51, 102, 153, 204, 255]  // [1, 2, 3]: two RGB pixels
        try writeImage("root/c/one.png", bytes, height: 1, width: 2, channels: 3)
        let rgb = try ImageFolder.load(root: path("root"), height: 1, width: 2, channels: 3)
        XCTAssertEqual(rgb.pixels, bytes)
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        try rgb.fill([0], into: &batch, labels: &labels)
        XCTAssertEqual(batch.shape, [1, 1, 2, 3])
        XCTAssertEqual(batch.withUnsafeBufferPointer(Array.init), bytes.map { Float($0) / 255 })
        let gray = try ImageFolder.load(root: path("root"), height: 1, width: 2, channels: 1)
        XCTAssertEqual(gray.pixels.count, 2)
        XCTAssertLessThan(gray.pixels[0], gray.pixels[1])
    }

    func testImagesOfOtherSizesAreStretchedByDefault() throws {
        try writeImage("root/a/small.png", height: 1, width: 1, value: 90)
        try writeImage("root/a/large.png", height: 5, width: 9, value: 180)
        let data = try ImageFolder.load(root: path("root"), height: 2, width: 3, channels: 3)
        XCTAssertEqual(data.pixels, Array(repeating: 180, count: 18) + Array(repeating: 90, count: 18))
    }

    func testASubsetFillsItsOwnExamplesAndLabels() throws {
        try writeImage("root/a/1.png", value: 1)
        try writeImage("root/b/2.png", value: 2)
        try writeImage("root/b/3.png", value: 3)
        let data = try ImageFolder.load(root: path("root"), height: 2, width: 3, channels: 1)
        let subset = DatasetSubset(data, indices: [2, 0])
        XCTAssertEqual(subset.count, 2)
        XCTAssertEqual(subset.labels, [1, 0])
        XCTAssertEqual(subset.classNames, ["a", "b"])
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        try subset.fill([1, 0], into: &batch, labels: &labels)
        XCTAssertEqual(labels, [0, 1])
        XCTAssertEqual(batch.shape, [2, 2, 3, 1])
        let values = batch.withUnsafeBufferPointer(Array.init)
        XCTAssertEqual([values[0], values[6]], [1 / 255, 3 / 255])
    }

    func testGivenClassNamesSetTheLabelOrderAndMayLackAFolder() throws {
        try writeImage("root/cat/1.png", value: 1)
        try writeImage("root/dog/1.png", value: 2)
        try writeImage("root/dog/2.png", value: 3)
        let data = try ImageFolder.load(root: path("root"), height: 2, width: 3, channels: 1,
                                        classNames: ["dog", "bird", "cat"])
        XCTAssertEqual(data.classNames, ["dog", "bird", "cat"])
        XCTAssertEqual(data.labels, [0, 0, 2])
        XCTAssertEqual(data.imagePaths, ["root/dog/1.png", "root/dog/2.png", "root/cat/1.png"].map(path))
        XCTAssertEqual(data.pixels[0], 2)
    }

    func testAFolderOutsideTheGivenClassNamesIsNamed() throws {
        try writeImage("root/cat/1.png")
        try writeImage("root/zebra/1.png")
        assertDataError(.unknownClassFolder, naming: path("root/zebra"), "cat, dog") {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1, classNames: ["cat", "dog"])
        }
    }

    func testMissingRootIsNamed() {
        assertDataError(.missingRoot, naming: path("nowhere")) {
            _ = try ImageFolder.load(root: self.path("nowhere"), height: 2, width: 3, channels: 1)
        }
    }

    func testRootThatIsAFileIsNamed() throws {
        let file = try writeImage("image.png")
        assertDataError(.notADirectory, naming: file) {
            _ = try ImageFolder.load(root: file, height: 2, width: 3, channels: 1)
        }
    }

    func testRootWithoutClassFoldersIsNamed() throws {
        try writeImage("root/loose.png")
        try makeFolder("root/.hidden")
        assertDataError(.noClassFolders, naming: path("root"), "<class name>") {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1)
        }
    }

    func testClassFolderWithoutImagesIsNamed() throws {
        try writeImage("root/a/1.png")
        try writeBytes("root/b/1.gif", Array("GIF89a".utf8))
        try writeImage("root/b/.2.png")
        assertDataError(.noImages, naming: path("root/b")) {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1)
        }
    }

    func testCorruptImageIsNamedWithLibpngMessage() throws {
        try writeImage("root/a/1.png")
        let corrupt = try writeBytes("root/a/2.png", [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0])
        assertDataError(.invalidImage, naming: corrupt, "libpng: ") {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1)
        }
    }

    func testFirstFailingFileInSortedOrderIsReportedWhateverTheThreadTiming() throws {
        // Enough images for several decoding chunks; failures late in class "a" and early in class "b".
        for index in 0..<200 {
            try writeImage(String(format: "root/a/%03d.png", index))
            try writeImage(String(format: "root/b/%03d.png", index))
        }
        try writeImage("root/a/150.png", height: 4, width: 3)
        try writeBytes("root/a/180.png", [1, 2, 3])
        try writeImage("root/b/000.png", height: 5, width: 5)
        try writeBytes("root/b/001.png", [1, 2, 3])
        for _ in 0..<3 {
            assertDataError(.sizeMismatch, naming: path("root/a/150.png"), "4×3", "2×3", "choose a model whose input is 4×3") {
                _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1, resizeMode: .error)
            }
        }
        // Resized instead (the default), the first bad file is the corrupt one.
        assertDataError(.invalidImage, naming: path("root/a/180.png")) {
            _ = try ImageFolder.load(root: self.path("root"), height: 2, width: 3, channels: 1)
        }
    }

    func testEveryImageCountIsSplitAcrossWorkersWithoutLosingOrRepeatingAnImage() throws {
        for count in 1...40 {
            try writeImage(String(format: "root/a/%02d.png", count), value: UInt8(count))
            let data = try ImageFolder.load(root: path("root"), height: 2, width: 3, channels: 1)
            XCTAssertEqual(data.count, count)
            let firstOfEachImage = stride(from: 0, to: data.pixels.count, by: 6).map { data.pixels[$0] }
            XCTAssertEqual(firstOfEachImage, (1...count).map(UInt8.init))
        }
    }

    func testInvalidArgumentsAreRejected() throws {
        try writeImage("root/a/1.png")
        let root = path("root")
        assertDataError(.invalidArgument, naming: "channel count 2") {
            _ = try ImageFolder.load(root: root, height: 2, width: 3, channels: 2)
        }
        assertDataError(.invalidArgument, naming: "0×3") {
            _ = try ImageFolder.load(root: root, height: 0, width: 3, channels: 1)
        }
        assertDataError(.invalidArgument, naming: "\"a\"") {
            _ = try ImageFolder.load(root: root, height: 2, width: 3, channels: 1, classNames: ["a", "a"])
        }
        assertDataError(.invalidArgument, naming: "empty") {
            _ = try ImageFolder.load(root: root, height: 2, width: 3, channels: 1, classNames: [])
        }
    }

    // MARK: Real data: the 8×8 handwritten digits

    /// `Samples/<relative>` of this repository (committed); a missing one fails the test.
    private func sample(_ relative: String) throws -> String {
        let path = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("../../Samples/\(relative)").standardized.path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("\(path) is missing; it is committed with the repository")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    /// The bundled digits' train split: 1437 images of 10 classes, pixels scaled to [0, 1].
    func testSampleDigitsTrainSplitLoads() throws {
        let data = try ImageFolder.load(root: try sample("digits/train"), height: 8, width: 8, channels: 1)
        XCTAssertEqual(data.count, 1437)
        XCTAssertEqual(data.classNames, (0...9).map(String.init))
        XCTAssertEqual(Set(data.labels), Set(0...9))
        XCTAssertEqual(data.pixels.count, 1437 * 64)
        XCTAssertEqual(data.pixels.max(), 255)
    }

    func testSampleDigitsTestSplitLoadsWithTrainClasses() throws {
        let root = try sample("digits/test")
        let data = try ImageFolder.load(root: root, height: 8, width: 8, channels: 1, classNames: (0...9).map(String.init))
        XCTAssertEqual(data.count, 360)
        XCTAssertEqual(data.labels.first, 0)
        XCTAssertEqual(data.labels.last, 9)
    }
}
