import Foundation

/// Image files and folders named by the user (`lrt predict MODEL PATH…`), unlabelled, in the order given.
///
/// A file named directly is read whatever its name (the decoder tells PNG from JPEG by its first bytes); a folder is
/// searched recursively by ``ImageListing``'s rules: `*.png`, `*.jpg`, `*.jpeg` in any letter case, sorted, hidden
/// entries left out, every other file skipped and counted.
public struct ImageFiles: Sendable, Equatable {
    /// The image files, in the order of the paths given, each folder's images sorted.
    public let paths: [String]
    /// Files under the folders that are not images (and folder links that loop), counted for one summary line.
    public let skipped: ImageListing.Skipped
    /// With `skipBadImages`: the entries named as images that cannot be read (FIFOs, devices, broken links, names
    /// that are not UTF-8), each with its reason; they are not in ``paths``.
    public let rejected: [DataError]

    /// Lists the images of `arguments` (files and folders).
    /// - Parameter skipBadImages: put unreadable entries in ``rejected`` instead of throwing.
    /// - Throws: `DataError` naming a path that does not exist, a folder without images, or (without
    ///   `skipBadImages`) an entry that cannot be read.
    public static func list(_ arguments: [String], skipBadImages: Bool = false) throws(DataError) -> ImageFiles {
        var paths: [String] = []
        var skipped = ImageListing.Skipped()
        var rejected: [DataError]? = skipBadImages ? [] : nil
        for argument in arguments {
            var status = stat()
            guard stat(argument, &status) == 0 else {
                let code = errno
                if code == ENOENT {
                    throw DataError(.missingRoot, path: argument, "image file or folder does not exist", hint: "check the path")
                }
                try reject(ImageFile.openError(argument, errno: code), into: &rejected)
                continue
            }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                var images: [String] = []
                var ancestors: [ImageListing.FileIdentity] = []
                let rejectedBefore = rejected?.count ?? 0
                try ImageListing.collectImages(in: argument, into: &images, skipped: &skipped, rejected: &rejected,
                                               ancestors: &ancestors)
                guard !images.isEmpty || (rejected?.count ?? 0) > rejectedBefore else {
                    throw DataError(.noImages, path: argument, "folder has no PNG or JPEG images (searched recursively)",
                                    hint: "name a folder holding *.png or *.jpg files, or the image files themselves")
                }
                paths += images
            case S_IFREG:
                paths.append(argument)
            default:
                try reject(ImageFile.notARegularFile(argument, type: status.st_mode & S_IFMT), into: &rejected)
            }
        }
        return ImageFiles(paths: paths, skipped: skipped, rejected: rejected ?? [])
    }

    private static func reject(_ error: DataError, into rejected: inout [DataError]?) throws(DataError) {
        guard rejected != nil else { throw error }
        rejected!.append(error)
    }
}

extension ImageFolder {
    /// Unlabelled images for prediction: `paths` read as `preprocessing` says, decoding on all cores, and converted per
    /// batch exactly as training images are. Every label is 0 and there are no class names.
    /// - Parameter skipBadImages: leave out images that cannot be decoded (listed in ``rejected``, in order) instead
    ///   of throwing; the result may then hold no images.
    /// - Throws: `DataError` for the first bad image, or when the images do not fit in memory.
    public static func load(files paths: [String], preprocessing: Preprocessing,
                            skipBadImages: Bool = false) throws(DataError) -> ImageFolder {
        let (pixels, failures) = try decodeAll(paths, preprocessing: preprocessing)
        if !skipBadImages, let first = failures.lazy.compactMap({ $0 }).first { throw first }
        let kept = failures.indices.filter { failures[$0] == nil }
        var keptPixels = pixels
        if kept.count < paths.count {
            let imageSize = preprocessing.height * preprocessing.width * preprocessing.colorMode.channels
            keptPixels = []
            keptPixels.reserveCapacity(kept.count * imageSize)
            for index in kept { keptPixels += pixels[index * imageSize..<(index + 1) * imageSize] }
        }
        return ImageFolder(root: "", classNames: [], imagePaths: kept.map { paths[$0] },
                           labels: [Int32](repeating: 0, count: kept.count), skipped: ImageListing.Skipped(),
                           rejected: failures.compactMap { $0 }, preprocessing: preprocessing, pixels: keptPixels)
    }
}
