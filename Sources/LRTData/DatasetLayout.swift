import Foundation
import LRTTensor

/// Where a dataset's splits are: `ROOT/train/` (with optional `ROOT/val/` or `ROOT/validation/`, and `ROOT/test/`),
/// or `ROOT` itself holding the class folders (then there is no test split, and validation is split off).
public struct DatasetLayout: Equatable, Sendable {
    /// The folder given.
    public let root: String
    /// The folder holding the training class folders: `ROOT/train` or `ROOT`.
    public let train: String
    /// `ROOT/val` or `ROOT/validation`, when present.
    public let validation: String?
    /// `ROOT/test`, when present.
    public let test: String?

    /// The layout of `root`.
    /// - Throws: `DataError` when `root` is missing or not a folder, or has both `val/` and `validation/`.
    public static func resolve(_ root: String) throws(DataError) -> DatasetLayout {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw DataError(.missingRoot, path: root, "dataset folder does not exist",
                            hint: "pass --data DIR with DIR/<class>/*.png, or DIR/train/<class>/*.png (and DIR/test/)")
        }
        guard isDirectory.boolValue else {
            throw DataError(.notADirectory, path: root, "--data is a file, not a folder",
                            hint: "pass a folder of class folders, or one with train/ (and test/) subfolders")
        }
        func folder(_ name: String) -> String? {
            let path = ImageListing.join(root, name)
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue ? path : nil
        }
        guard let train = folder("train") else {
            return DatasetLayout(root: root, train: root, validation: nil, test: nil)
        }
        let validationFolders = ["val", "validation"].compactMap(folder)
        guard validationFolders.count <= 1 else {
            throw DataError(.invalidArgument, path: root, "dataset folder has both val/ and validation/",
                            hint: "keep one of them")
        }
        return DatasetLayout(root: root, train: train, validation: validationFolders.first, test: folder("test"))
    }
}

/// A stratified, seeded split of a labelled set into training and validation examples.
public struct ValidationSplit: Equatable, Sendable {
    /// Positions of the training examples, ascending.
    public let train: [Int]
    /// Positions of the validation examples, ascending.
    public let validation: [Int]

    /// Splits positions `0..<labels.count`: in each class, `round(fraction · n)` examples chosen by a generator
    /// seeded with `seed` go to validation, but every class keeps at least one training example and, when the
    /// fraction is above 0 and the class has two or more, gives at least one to validation.
    /// - Throws: `DataError` `.invalidArgument` unless `0 ≤ fraction < 1`.
    public init(labels: [Int32], fraction: Double, seed: UInt64) throws(DataError) {
        guard fraction >= 0, fraction < 1 else {
            throw DataError(.invalidArgument, path: nil, "--validation-split \(fraction) is not in [0, 1)",
                            hint: "pass a fraction such as 0.1, or 0 to train on everything")
        }
        var byClass: [Int32: [Int]] = [:]
        for (position, label) in labels.enumerated() { byClass[label, default: []].append(position) }
        var generator = SeededGenerator(seed: seed ^ 0x5641_4C49_4441_5445)  // "VALIDATE": its own stream
        var validation: [Int] = []
        for label in byClass.keys.sorted() {
            let members = byClass[label]!
            guard fraction > 0, members.count >= 2 else { continue }
            let wanted = min(max(Int((fraction * Double(members.count)).rounded()), 1), members.count - 1)
            let order = generator.permutation(of: members.count)
            validation += order.prefix(wanted).map { members[$0] }
        }
        validation.sort()
        let chosen = Set(validation)
        self.validation = validation
        train = labels.indices.filter { !chosen.contains($0) }
    }

    /// A 64-bit FNV-1a digest (16 hex digits) of `paths` in order, to record which files a split holds.
    public static func digest(of paths: [String]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for path in paths {
            for byte in path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            hash = (hash ^ 0x0A) &* 0x0000_0100_0000_01B3  // a newline between paths
        }
        return String(format: "%016llx", hash)
    }
}
