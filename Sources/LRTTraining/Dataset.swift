import Foundation
import LRTData
import LRTFormat
import LRTLayers

/// Which split of a dataset `lrt eval` reads.
public enum DataSplit: String, Sendable, CaseIterable {
    case train, validation, test
}

extension Runs {
    /// How images become inputs of `model` as the run recorded in `state` read them (its colour mode, resize mode and
    /// normalization; the model's input size), for every command that reads image files (`predict` included); a Keras
    /// file's empty state gives the defaults: the model's channels, `stretch`, pixels in [0, 1].
    /// - Parameter sampleImage: an image file, for a model with a flat input (`[h·w·c]`) whose size it tells.
    /// - Throws: `DataError` when the model's input is not an image or the recorded colour mode does not fit it.
    public static func imagePreprocessing(model: any Model, state: TrainingState,
                                          sampleImage: () throws(DataError) -> String?) throws -> Preprocessing {
        let geometry = try ImageGeometry.forModelInput(model.inputShape, sampleImage: sampleImage)
        var preprocessing = try Preprocessing(geometry: geometry, colorMode: ColorMode(rawValue: state.colorMode),
                                              resizeMode: ResizeMode(rawValue: state.resizeMode) ?? .stretch)
        if !state.normalizationMean.isEmpty {
            preprocessing.normalization = try Normalization(mean: state.normalizationMean,
                                                            standardDeviation: state.normalizationStandardDeviation)
        }
        return preprocessing
    }
}

/// A dataset of image files: decoded in memory (``ImageFolder``) or streamed from a cache (``HDF5CacheDataset``).
protocol ImageFileDataset: Dataset {
    /// The files of the examples, in order.
    var imagePaths: [String] { get }
    /// The images left out as unreadable.
    var rejected: [DataError] { get }
}

extension ImageFolder: ImageFileDataset {}
extension HDF5CacheDataset: ImageFileDataset {}

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
    /// Images are decoded into memory, or with ``TrainingState/cachePath`` read from that cache (built first when the
    /// files changed), and streamed from it when they need more than `memoryBudget`. With
    /// ``TrainingState/normalization`` `mean-std` and no statistics yet, they are measured on the training split.
    /// - Parameters:
    ///   - classNames: the label order to keep (default: the state's, when it has any).
    ///   - split: for `lrt eval`: the split to put in ``evaluated``; the others are then not decoded.
    ///   - classWeighting: for a new run, the class weights to compute on the training split (default none).
    ///   - memoryBudget: the bytes decoded images may take in memory (default: half of the machine's memory).
    ///   - progress: receives the summary line of skipped files, and the decoding progress.
    static func load(model: any Model, state: inout TrainingState, classNames: [String]? = nil, split: DataSplit? = nil,
                     classWeighting: ClassWeighting? = nil, memoryBudget: Int = MemoryBudget.defaultBytes,
                     progress: @escaping (String) -> Void) throws -> RunData {
        let layout = try DatasetLayout.resolve(state.dataRoot)
        var reader = FolderReader(layout: layout, model: model, memoryBudget: memoryBudget, progress: progress)
        let knownClasses = classNames ?? (state.classNames.isEmpty ? nil : state.classNames)
        if split == .test, layout.train == layout.root {
            // A folder of class folders given to `lrt eval`: that folder is the test set.
            let test = try normalized(try reader.load(layout.root, classes: knownClasses, state: &state), state)
            return RunData(train: test, validation: nil, test: test, evaluated: test)
        }
        if split == .test {
            guard let testFolder = layout.test else { return RunData(train: DatasetSubset.empty, validation: nil, test: nil, evaluated: nil) }
            let test = try normalized(try reader.load(testFolder, classes: knownClasses, state: &state), state)
            return RunData(train: test, validation: nil, test: test, evaluated: test)
        }
        let all = try reader.load(layout.train, classes: knownClasses, state: &state, isTraining: split == nil)
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
            let folderData = try reader.load(folder, classes: all.classNames, state: &state)
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
        if split == nil, state.normalization == "mean-std", state.normalizationMean.isEmpty {
            let measured = try Normalization.measure(train)  // the training split only, before augmentation
            state.normalizationMean = measured.mean
            state.normalizationStandardDeviation = measured.standardDeviation
        }
        if split == nil { state.trainingCount = train.count }
        if split == nil, let classWeighting {
            state.classWeights = try classWeighting.weights(labels: train.labels, classNames: all.classNames)
            state.classWeightSource = classWeighting.source
        }
        if split == nil, !state.augmentation.isEmpty {
            do { train = AugmentedDataset(train, augmentation: try Augmentation(parsing: state.augmentation)) } catch {
                throw TrainingError.invalidSetting(.augmentation, value: state.augmentation, hint: "\(error)")
            }
        }
        let test: (any Dataset)? = try split == nil
            ? layout.test.map { try reader.load($0, classes: all.classNames, state: &state) } : nil
        let evaluated: (any Dataset)? = split == .train ? train : split == .validation ? validation : nil
        return RunData(train: try normalized(train, state), validation: try validation.map { try normalized($0, state) },
                       test: try test.map { try normalized($0, state) }, evaluated: try evaluated.map { try normalized($0, state) })
    }

    /// `data` standardized as the state records (unchanged without normalization).
    private static func normalized(_ data: any Dataset, _ state: TrainingState) throws -> any Dataset {
        guard !state.normalizationMean.isEmpty else { return data }
        let normalization = try Normalization(mean: state.normalizationMean, standardDeviation: state.normalizationStandardDeviation)
        guard data.exampleShape.last == normalization.channels else {
            throw TrainingError.mismatch("the checkpoint normalizes \(normalization.channels) channels but the images are read with \(data.exampleShape.last ?? 0); read them with the checkpoint's colour mode")
        }
        return NormalizedDataset(data, normalization: normalization)
    }
}

/// Reads a run's folders of class folders with the state's preprocessing for the model's input: decoded into memory,
/// or through the state's cache file, which holds every folder of the layout and is built on first use.
private struct FolderReader {
    let layout: DatasetLayout
    let model: any Model
    let memoryBudget: Int
    let progress: (String) -> Void
    /// The cached folders, by path, once the cache is prepared.
    private var cached: [String: HDF5CacheDataset]?

    init(layout: DatasetLayout, model: any Model, memoryBudget: Int, progress: @escaping (String) -> Void) {
        (self.layout, self.model, self.memoryBudget, self.progress) = (layout, model, memoryBudget, progress)
    }

    /// The cache group of a folder: its path below the root (`train`, `val`, `test`), or `root`.
    private func groupName(_ folder: String) -> String {
        folder == layout.root ? "root" : (folder as NSString).lastPathComponent
    }

    /// One folder; `isTraining`: the training folder of a training run, streamed as the state records.
    mutating func load(_ folder: String, classes: [String]?, state: inout TrainingState,
                       isTraining: Bool = false) throws -> any ImageFileDataset {
        let listing = try ImageListing.list(root: folder, classNames: classes, skipBadImages: state.skipBadImages)
        listing.skipped.summary.map { progress("note: " + $0) }
        var preprocessing = try Runs.imagePreprocessing(model: model, state: state) { listing.imagePaths.first }
        preprocessing.normalization = nil  // applied after augmentation, by RunData.normalized
        try Runs.checkOutputs(of: model, classCount: listing.classNames.count)
        // A resumed run keeps its epoch order: its training images streamed (chunk-shuffled) or held in memory, as it started.
        let resumed = isTraining && !state.validationSource.isEmpty
        if resumed, !state.streamed {
            let needed = listing.imagePaths.count.multipliedReportingOverflow(by: preprocessing.height * preprocessing.width * preprocessing.colorMode.channels)
            if needed.overflow || needed.partialValue > memoryBudget {
                let size = needed.overflow ? "more than 8 EiB" : MemoryBudget.format(needed.partialValue)
                throw TrainingError.insufficientMemory("the run held the \(listing.imagePaths.count) images of its training folder \(folder) in memory (\(size)), over the memory budget of \(MemoryBudget.format(memoryBudget)), and streaming them from a cache would change the order of its examples: resume with --memory-budget \(size) or more, or start a new run with --cache to stream them")
            }
        }
        let data: any ImageFileDataset
        if state.cachePath.isEmpty {
            var decodeProgress = DecodeProgress(write: progress)
            data = try ImageFolder.load(listing, preprocessing: preprocessing, skipBadImages: state.skipBadImages,
                                        memoryBudget: memoryBudget) { decodeProgress.update($0, of: $1) }
        } else {
            let cache = try cachedFolder(folder, listing: listing, preprocessing: preprocessing, state: state)
            let bytes = cache.count.multipliedReportingOverflow(by: cache.exampleShape.reduce(1, *))
            let streams = resumed ? state.streamed : bytes.overflow || bytes.partialValue > memoryBudget
            if isTraining { state.streamed = streams }
            data = streams ? cache : try cache.loadIntoMemory()
        }
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

    /// The cache of `folder`, preparing the cache of every folder of the layout on first use.
    private mutating func cachedFolder(_ folder: String, listing: ImageListing, preprocessing: Preprocessing,
                                       state: TrainingState) throws -> HDF5CacheDataset {
        if let cached, let data = cached[folder] { return data }
        var folders = [ImageCache.Folder(name: groupName(folder), listing: listing)]
        for other in [layout.train, layout.validation, layout.test].compactMap({ $0 }) where other != folder {
            folders.append(ImageCache.Folder(name: groupName(other),
                                             listing: try ImageListing.list(root: other, classNames: listing.classNames,
                                                                            skipBadImages: state.skipBadImages)))
        }
        folders.sort { $0.name < $1.name }
        var decodeProgress = DecodeProgress(write: progress)
        let datasets = try ImageCache.prepare(path: state.cachePath, folders: folders, preprocessing: preprocessing,
                                              skipBadImages: state.skipBadImages, inputFolders: [layout.root]) { name, done, total in
            decodeProgress.update(done, of: total)
        }
        var byPath: [String: HDF5CacheDataset] = [:]
        for other in [layout.train, layout.validation, layout.test].compactMap({ $0 }) + [folder] {
            byPath[other] = datasets[groupName(other)]
        }
        cached = byPath
        guard let data = byPath[folder] else { throw TrainingError.data(path: folder, problem: "\(folder) is not in the image cache \(state.cachePath)") }
        return data
    }
}
