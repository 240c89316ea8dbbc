import Foundation
import LRTData
import LRTFormat
import LRTLayers

/// Which split of a dataset `lrt eval` reads.
public enum DataSplit: String, Sendable, CaseIterable {
    case train, validation, test
}

/// The splits a run reads, resolved from the dataset layout and the run's recorded (or requested) choices.
struct RunData {
    /// The training examples (the training folder less the validation split, if one is split off).
    var train: any Dataset
    /// Evaluated after every epoch; nil when there is none.
    var validation: (any Dataset)?
    /// Evaluated once after training; nil when the dataset has no `test/`.
    var test: (any Dataset)?
    /// The split `lrt eval` asked for.
    var evaluated: (any Dataset)?

    /// Loads the dataset at `state.dataRoot` for `model`, and records in `state` (when its ``TrainingState/validationSource``
    /// is empty, a new run) or checks against it (a resumed run) the validation split, the preprocessing and classes.
    /// - Parameters:
    ///   - classNames: the label order to keep (default: the state's, when it has any).
    ///   - split: for `lrt eval`: the split to put in ``evaluated``; the others are then not decoded.
    ///   - progress: receives the summary line of skipped files.
    static func load(model: any Model, state: inout TrainingState, classNames: [String]? = nil, split: DataSplit? = nil,
                     progress: (String) -> Void) throws -> RunData {
        let layout = try DatasetLayout.resolve(state.dataRoot)
        let knownClasses = classNames ?? (state.classNames.isEmpty ? nil : state.classNames)
        if split == .test, layout.train == layout.root {
            // A folder of class folders given to `lrt eval`: that folder is the test set.
            let test = try load(layout.root, classes: knownClasses, model: model, state: &state, progress: progress)
            return RunData(train: test, validation: nil, test: test, evaluated: test)
        }
        if split == .test {
            guard let testFolder = layout.test else { return RunData(train: DatasetSubset.empty, validation: nil, test: nil, evaluated: nil) }
            let test = try load(testFolder, classes: knownClasses, model: model, state: &state, progress: progress)
            return RunData(train: test, validation: nil, test: test, evaluated: test)
        }
        let all = try load(layout.train, classes: knownClasses, model: model, state: &state, progress: progress)
        if split == nil, !state.validationSource.isEmpty {  // a resumed run: every class it learned must be there
            let present = Set(all.labels)
            if let missing = all.classNames.indices.first(where: { !present.contains(Int32($0)) }) {
                throw TrainingError.data(path: layout.train, problem: "\(layout.train) has no images of class '\(all.classNames[missing])', one of the \(all.classNames.count) classes the checkpoint was trained on; resume with the dataset it was trained on")
            }
        }
        state.classNames = all.classNames
        var train: any Dataset = all
        var validation: (any Dataset)?
        var validationPaths: [String] = []
        let isNewRun = state.validationSource.isEmpty
        if isNewRun {
            if let folder = layout.validation {
                state.validationSource = (folder as NSString).lastPathComponent + "/"
            } else {
                state.validationSource = state.validationFraction > 0 ? "split" : "none"
            }
            if state.validationSource != "split" { state.validationFraction = 0 }
        }
        switch state.validationSource {
        case "val/", "validation/", "test/":
            let name = String(state.validationSource.dropLast())
            let folder = ImageListing.join(layout.root, name)
            guard FileManager.default.fileExists(atPath: folder) else {
                throw TrainingError.data(path: layout.root, problem: "\(layout.root) has no \(name)/ folder, which the run validated on; pass --data with the same dataset")
            }
            let folderData = try load(folder, classes: all.classNames, model: model, state: &state, progress: progress)
            validation = folderData
            validationPaths = folderData.imagePaths
        case "split":
            let chosen = try ValidationSplit(labels: all.labels, fraction: state.validationFraction, seed: state.seed)
            train = DatasetSubset(all, indices: chosen.train)
            validation = DatasetSubset(all, indices: chosen.validation)
            validationPaths = chosen.validation.map { all.imagePaths[$0] }
        default:
            break
        }
        let relative = validationPaths.map { $0.hasPrefix(layout.root + "/") ? String($0.dropFirst(layout.root.count + 1)) : $0 }
        let digest = ValidationSplit.digest(of: relative)
        if isNewRun || state.validationDigest.isEmpty {
            state.validationDigest = digest
            state.validationCount = validationPaths.count
        } else if digest != state.validationDigest || validationPaths.count != state.validationCount {
            throw TrainingError.data(path: layout.root, problem: "the validation files of \(layout.root) (\(validationPaths.count), digest \(digest)) are not the \(state.validationCount) the run validated on (digest \(state.validationDigest)); the dataset changed: resume with the same files")
        }
        if split == nil, !state.augmentation.isEmpty {
            do { train = AugmentedDataset(train, augmentation: try Augmentation(parsing: state.augmentation)) } catch {
                throw TrainingError.invalidSetting(.augmentation, value: state.augmentation, hint: "\(error)")
            }
        }
        let test: (any Dataset)? = try split == nil
            ? layout.test.map { try load($0, classes: all.classNames, model: model, state: &state, progress: progress) } : nil
        let evaluated: (any Dataset)? = split == .train ? train : split == .validation ? validation : nil
        return RunData(train: train, validation: validation, test: test, evaluated: evaluated)
    }

    /// How a run saved in `state` reads images for `model`: the model's input size, the saved colour mode (default:
    /// the model's input channels) and resize mode (default: stretch). A Keras file's empty state gets the defaults.
    /// - Parameter sampleImage: an image to size a flat input shape by.
    static func preprocessing(for model: any Model, state: TrainingState,
                              sampleImage: () throws(DataError) -> String?) throws -> Preprocessing {
        let geometry = try ImageGeometry.forModelInput(model.inputShape, sampleImage: sampleImage)
        return try Preprocessing(geometry: geometry, colorMode: ColorMode(rawValue: state.colorMode),
                                 resizeMode: ResizeMode(rawValue: state.resizeMode) ?? .stretch)
    }

    /// One folder of class folders, read with the state's preprocessing for `model`'s input.
    private static func load(_ folder: String, classes: [String]?, model: any Model, state: inout TrainingState,
                             progress: (String) -> Void) throws -> ImageFolder {
        let listing = try ImageListing.list(root: folder, classNames: classes, skipBadImages: state.skipBadImages)
        listing.skipped.summary.map { progress("note: " + $0) }
        let preprocessing = try Self.preprocessing(for: model, state: state) { listing.imagePaths.first }
        let data = try ImageFolder.load(listing, preprocessing: preprocessing, skipBadImages: state.skipBadImages)
        try Runs.checkOutputs(of: model, classCount: data.classNames.count)
        if !data.rejected.isEmpty {
            let shown = data.rejected.prefix(3).map(\.description).joined(separator: "; ")
            progress("warning: --on-bad-image skip left out \(data.rejected.count) image\(data.rejected.count == 1 ? "" : "s") of \(folder): \(shown)\(data.rejected.count > 3 ? "; …" : "")")
            let root = state.dataRoot.hasSuffix("/") ? state.dataRoot : state.dataRoot + "/"
            for path in data.rejected.compactMap(\.path) where !state.skippedImages.contains(where: { root + $0 == path }) {
                state.skippedImages.append(path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path)
            }
        }
        return data
    }
}
