import Foundation
import XCTest
@testable import LRTData

final class ImageListingTests: FixtureTestCase {
    func testImagesAreFoundRecursivelyWithEveryExtensionInAnyCase() throws {
        for name in ["a/1.png", "a/2.JPG", "a/deep/er/3.jpeg", "a/deep/4.Jpeg", "a/deep/5.PnG", "b/x.jpg"] {
            try writeBytes("root/" + name, [0])
        }
        try writeBytes("root/a/deep/.hidden/6.png", [0])
        try writeBytes("root/a/notes.txt", [0])
        try writeBytes("root/a/deep/image.gif", [0])
        try writeBytes("root/a/png", [0])
        let listing = try ImageListing.list(root: path("root"))
        XCTAssertEqual(listing.classNames, ["a", "b"])
        XCTAssertEqual(listing.imagePaths, ["a/1.png", "a/2.JPG", "a/deep/4.Jpeg", "a/deep/5.PnG", "a/deep/er/3.jpeg", "b/x.jpg"]
            .map { path("root/" + $0) })
        XCTAssertEqual(listing.labels, [0, 0, 0, 0, 0, 1])
        XCTAssertEqual(listing.skipped.count, 3)
        XCTAssertEqual(listing.skipped.summary,
                       "skipped 3 entries that are not a .png/.jpg/.jpeg image under the dataset folder, e.g. \(path("root/a/deep/image.gif"))")
    }

    func testNothingSkippedGivesNoSummaryLine() throws {
        try writeBytes("root/a/1.png", [0])
        XCTAssertNil(try ImageListing.list(root: path("root")).skipped.summary)
    }

    func testAnEmptyClassIsNamedEvenWhenItHoldsOtherFiles() throws {
        try writeBytes("root/a/1.png", [0])
        try writeBytes("root/empty/sub/readme.txt", [0])
        assertDataError(.noImages, naming: path("root/empty")) { _ = try ImageListing.list(root: self.path("root")) }
    }

    func testAFIFONamedAsAnImageIsRefusedAtOnceAndOtherFIFOsAreSkipped() throws {
        try writeBytes("root/a/1.png", [0])
        try makeFolder("root/b")
        XCTAssertEqual(mkfifo(path("root/a/pipe"), 0o644), 0)
        XCTAssertThrowsError(try ImageListing.list(root: path("root")))  // b is still an empty class
        try writeBytes("root/b/1.png", [0])
        XCTAssertEqual(try ImageListing.list(root: path("root")).skipped.examples, [path("root/a/pipe")])
        XCTAssertEqual(mkfifo(path("root/b/x.png"), 0o644), 0)
        let started = Date()
        assertDataError(.notARegularFile, naming: path("root/b/x.png"), "FIFO") { _ = try ImageListing.list(root: self.path("root")) }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testAFolderLinkLoopIsSkippedAndAFileLinkLoopNamedAsAnImageIsNamed() throws {
        try writeBytes("root/a/1.png", [0])
        try FileManager.default.createSymbolicLink(atPath: path("root/a/again"), withDestinationPath: path("root/a"))
        let listing = try ImageListing.list(root: path("root"))
        XCTAssertEqual(listing.imagePaths, [path("root/a/1.png")])
        XCTAssertEqual(listing.skipped.examples, [path("root/a/again")])
        try FileManager.default.createSymbolicLink(atPath: path("root/a/x.png"), withDestinationPath: path("root/a/y.png"))
        try FileManager.default.createSymbolicLink(atPath: path("root/a/y.png"), withDestinationPath: path("root/a/x.png"))
        assertDataError(.invalidImage, naming: path("root/a/x.png"), "symbolic link loop") {
            _ = try ImageListing.list(root: self.path("root"))
        }
    }

    func testAFolderLinkToAnotherPlaceIsFollowed() throws {
        try writeBytes("elsewhere/7.png", [0])
        try writeBytes("root/a/1.png", [0])
        try FileManager.default.createSymbolicLink(atPath: path("root/a/more"), withDestinationPath: path("elsewhere"))
        try FileManager.default.createSymbolicLink(atPath: path("root/b"), withDestinationPath: path("elsewhere"))
        let listing = try ImageListing.list(root: path("root"))
        XCTAssertEqual(listing.imagePaths, [path("root/a/1.png"), path("root/a/more/7.png"), path("root/b/7.png")])
    }

    func testANameThatIsNotUTF8IsNamedWithItsBytesEscaped() throws {
        try writeBytes("root/a/1.png", [0])
        let name = path("root/a/caf") + "\u{E9}.png"
        var latin1 = Array(name.utf8.dropLast(6)) + [0xE9] + Array(".png".utf8) + [0]  // "café.png" in Latin-1
        let descriptor = latin1.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        close(descriptor)
        assertDataError(.invalidName, naming: path("root/a/caf\\xE9.png"), "UTF-8") { _ = try ImageListing.list(root: self.path("root")) }
    }

    func testFoldersThatCannotBeListedSayPermission() throws {
        try writeBytes("root/a/1.png", [0])
        if getuid() != 0 {
            XCTAssertEqual(chmod(path("root/a"), 0o600), 0)  // readable, but no execute (search) bit
            defer { chmod(path("root/a"), 0o755) }
            assertDataError(.permissionDenied, naming: path("root/a"), "permission", "chmod u+rx") {
                _ = try ImageListing.list(root: self.path("root"))
            }
        }
        // As root every folder can be listed, so check the message for EACCES itself too.
        let error = ImageListing.folderError(path("root/a"), errno: EACCES)
        XCTAssertEqual(error.kind, .permissionDenied)
        XCTAssertTrue(error.description.contains("permission denied") && !error.description.contains("no PNG"), "\(error)")
    }

    func testImageNamesNeedARealExtension() {
        XCTAssertTrue(ImageListing.isImageName("a.PNG"))
        XCTAssertTrue(ImageListing.isImageName("a.b.jpeg"))
        XCTAssertFalse(ImageListing.isImageName("png"))
        XCTAssertFalse(ImageListing.isImageName("a.png.txt"))
        XCTAssertFalse(ImageListing.isImageName("a.jpg~"))
    }
}
