import Foundation
import LRTData

extension ImageFolder {
    /// Loads `root` for a model with input `shape`, with labels in `classNames` order when given.
    static func load(root: String, modelInput shape: [Int], classNames: [String]?, resizeMode: ResizeMode = .error) throws -> ImageFolder {
        let listing = try ImageListing.list(root: root, classNames: classNames)
        let geometry = try ImageGeometry.forModelInput(shape) { listing.imagePaths.first }
        return try ImageFolder.load(listing, preprocessing: Preprocessing(geometry: geometry, resizeMode: resizeMode))
    }
}
