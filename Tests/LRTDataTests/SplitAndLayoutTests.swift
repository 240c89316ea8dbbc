import Foundation
import XCTest
@testable import LRTData

final class SplitAndLayoutTests: FixtureTestCase {
    /// Labels of an unbalanced set: 50 of class 0, 20 of class 1, 3 of class 2, 1 of class 3.
    private let labels: [Int32] = Array(repeating: 0, count: 50) + Array(repeating: 1, count: 20) + [2, 2, 2, 3]

    func testTrainAndValidationAreDisjointCoverEverythingAndAreStratified() throws {
        let split = try ValidationSplit(labels: labels, fraction: 0.2, seed: 7)
        XCTAssertTrue(Set(split.train).isDisjoint(with: split.validation))
        XCTAssertEqual((split.train + split.validation).sorted(), Array(labels.indices))
        let validationLabels = split.validation.map { labels[$0] }
        XCTAssertEqual(validationLabels.filter { $0 == 0 }.count, 10)
        XCTAssertEqual(validationLabels.filter { $0 == 1 }.count, 4)
        XCTAssertEqual(validationLabels.filter { $0 == 2 }.count, 1, "a small class still gives one")
        XCTAssertEqual(validationLabels.filter { $0 == 3 }.count, 0, "a class of one keeps its only example for training")
    }

    func testTheSplitIsReproducibleFromTheSeedAndChangesWithIt() throws {
        let first = try ValidationSplit(labels: labels, fraction: 0.1, seed: 3)
        XCTAssertEqual(try ValidationSplit(labels: labels, fraction: 0.1, seed: 3), first)
        XCTAssertNotEqual(try ValidationSplit(labels: labels, fraction: 0.1, seed: 4).validation, first.validation)
    }

    func testAZeroFractionKeepsEverythingForTrainingAndBadFractionsAreRefused() throws {
        let none = try ValidationSplit(labels: labels, fraction: 0, seed: 1)
        XCTAssertEqual(none.train, Array(labels.indices))
        XCTAssertTrue(none.validation.isEmpty)
        for fraction in [-0.1, 1, 1.5, .nan] {
            assertDataError(.invalidArgument, naming: "--validation-split") { _ = try ValidationSplit(labels: self.labels, fraction: fraction, seed: 1) }
        }
    }

    func testTheDigestNamesTheFilesInOrder() {
        let digest = ValidationSplit.digest(of: ["a/1.png", "b/2.png"])
        XCTAssertEqual(digest.count, 16)
        XCTAssertEqual(ValidationSplit.digest(of: ["a/1.png", "b/2.png"]), digest)
        XCTAssertNotEqual(ValidationSplit.digest(of: ["b/2.png", "a/1.png"]), digest)
        XCTAssertNotEqual(ValidationSplit.digest(of: ["a/1.pngb/2.png"]), digest)
    }

    func testLayouts() throws {
        try makeFolder("flat/cat")
        XCTAssertEqual(try DatasetLayout.resolve(path("flat")), DatasetLayout(root: path("flat"), train: path("flat"), validation: nil, test: nil))
        try makeFolder("split/train/cat")
        try makeFolder("split/test/cat")
        XCTAssertEqual(try DatasetLayout.resolve(path("split")),
                       DatasetLayout(root: path("split"), train: path("split/train"), validation: nil, test: path("split/test")))
        try makeFolder("split/validation/cat")
        XCTAssertEqual(try DatasetLayout.resolve(path("split")).validation, path("split/validation"))
        try makeFolder("split/val/cat")
        assertDataError(.invalidArgument, naming: path("split"), "val/", "validation/") { _ = try DatasetLayout.resolve(self.path("split")) }
        assertDataError(.missingRoot, naming: path("nowhere")) { _ = try DatasetLayout.resolve(self.path("nowhere")) }
        let file = try writeBytes("file", [0])
        assertDataError(.notADirectory, naming: file) { _ = try DatasetLayout.resolve(file) }
    }
}
