import LRTLayers
import LRTTensor
import XCTest
@testable import LRTOptimizers

/// The typed optimizer configuration, its one JSON reader and writer, the shared config reader,
/// typed error keys, and the chain of stages it builds.
final class ConfigurationTests: XCTestCase {
    // MARK: - ConfigReader

    /// Each key read is consumed; what is left is reported by name, in the object's order.
    func testConfigReaderConsumesKeysAndRejectsTheRest() throws {
        var reader = try ConfigReader(try JSONValue.parse(#"{"units": 4, "unit": 3, "use_bias": true, "kernel": null}"#),
                                      context: "Dense layer 'dense'")
        XCTAssertEqual(try reader.integer("units"), 4)
        XCTAssertEqual(try reader.bool("use_bias", default: false), true)
        XCTAssertEqual(try reader.number("kernel", default: 7), 7, "null takes the default")
        XCTAssertEqual(reader.remainingKeys, ["unit"])
        XCTAssertThrowsError(try reader.finish()) { error in
            XCTAssertEqual(error as? ConfigError, ConfigError(context: "Dense layer 'dense'", key: nil, reason: .unknown(keys: ["unit"])))
            XCTAssertEqual("\(error)", "Dense layer 'dense': unknown option \"unit\"")
        }
        _ = reader.take("unit")
        XCTAssertNoThrow(try reader.finish())
    }

    /// Missing, mistyped and non-object configs are typed errors that name the key and what was found.
    func testConfigReaderErrorsNameTheKeyAndTheValue() throws {
        var reader = try ConfigReader(try JSONValue.parse(#"{"momentum": "high", "milestones": [1, 2.5]}"#), context: "SGD")
        XCTAssertThrowsError(try reader.number("momentum")) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "momentum")
            XCTAssertEqual((error as? ConfigError)?.reason, .wrongType(found: "\"high\"", expected: "a number"))
        }
        XCTAssertThrowsError(try reader.integers("milestones")) {
            XCTAssertEqual(($0 as? ConfigError)?.reason, .wrongType(found: "[1, 2.5]", expected: "an array of whole numbers"))
        }
        XCTAssertThrowsError(try reader.integer("step_size")) {
            XCTAssertEqual($0 as? ConfigError, ConfigError(context: "SGD", key: "step_size", reason: .missing))
            XCTAssertEqual("\($0)", "SGD needs \"step_size\"")
        }
        XCTAssertThrowsError(try ConfigReader(.array([]), context: "Adam")) {
            XCTAssertEqual(($0 as? ConfigError)?.reason, .notAnObject(found: "[]"))
        }
    }

    // MARK: - Typed keys

    /// Errors carry the key as a value, so a caller names it its own way (the CLI's flags) without
    /// rewriting the message.
    func testOptimizerErrorsCarryATypedKey() throws {
        XCTAssertThrowsError(try Adam(beta1: 1.5)) { error in
            let error = error as? OptimizerError
            XCTAssertEqual(error?.key, .beta1)
            XCTAssertEqual(error?.description, "invalid beta_1 1.5: use a value in [0, 1), e.g. 0.9")
            XCTAssertEqual(error?.described(naming: { $0 == .beta1 ? "--beta1" : $0.rawValue }),
                           "invalid --beta1 1.5: use a value in [0, 1), e.g. 0.9")
        }
        XCTAssertThrowsError(try OptimizerConfiguration(json: try JSONValue.parse(#"{"class_name": "SGD", "config": {"learning_rate": {"class_name": "Step", "config": {"gamma": 0.5}}}}"#))) { error in
            XCTAssertEqual((error as? OptimizerError)?.key, .stepSize)
            XCTAssertEqual((error as? OptimizerError)?.described(naming: { _ in "--step-size" }), "schedule Step needs --step-size")
        }
        XCTAssertThrowsError(try OptimizerConfiguration(json: try JSONValue.parse(#"{"class_name": "SGD", "config": {"momentum": true}}"#))) { error in
            XCTAssertEqual((error as? OptimizerError)?.key, .momentum)
            XCTAssert("\(error)".hasPrefix("invalid momentum true: SGD: \"momentum\" must be a number"), "\(error)")
        }
    }

    // MARK: - Configuration

    /// For every class at its defaults and with options, JSON → configuration → JSON is the identity,
    /// and the configuration built from the written JSON equals the first.
    func testJSONRoundTripsForEveryClass() throws {
        var configs = OptimizerConfiguration.ClassName.allCases.map { #"{"class_name": "\#($0.rawValue)"}"# }
        configs += [
            #"{"class_name": "SGD", "config": {"momentum": 0.5, "nesterov": true, "global_clipnorm": 2, "layer_rates_per_tensor": true}}"#,
            #"{"class_name": "Adam", "config": {"layer_adaptation": {"class_name": "LAMB"}, "weight_decay": 0.1, "weight_decay_mode": "in_update"}}"#,
            #"{"class_name": "RMSprop", "config": {"alpha": 0.9, "centered": true, "learning_rate": {"class_name": "Warmup", "config": {"steps": 3, "schedule": {"class_name": "Cosine", "config": {"period": 4}}}}}}"#,
        ]
        for text in configs {
            let configuration = try OptimizerConfiguration(json: try JSONValue.parse(text))
            let rebuilt = try OptimizerConfiguration(json: configuration.json)
            XCTAssertEqual(rebuilt.json, configuration.json, text)
            XCTAssertEqual(rebuilt, configuration, text)
            XCTAssertEqual(try JSONValue.parse(configuration.json.serialized), configuration.json, "the JSON survives text: \(text)")
        }
    }

    /// The typed initializer refuses parts that are not the class named, with the class to use.
    func testClassMustFitItsParts() throws {
        XCTAssertThrowsError(try OptimizerConfiguration(className: .lars, rule: try StochasticGradientDescent(momentum: 0.9),
                                                        schedule: try ConstantSchedule(learningRate: 1))) { error in
            XCTAssertEqual((error as? OptimizerError)?.key, .className)
            XCTAssert("\(error)".contains("use class SGD"), "\(error)")
        }
        XCTAssertThrowsError(try OptimizerConfiguration(className: .adamW, rule: try Adam(), weightDecay: try WeightDecay(rate: 0.1),
                                                        schedule: try ConstantSchedule(learningRate: 1))) {
            XCTAssertEqual(($0 as? OptimizerError)?.key, .weightDecayMode)
        }
        XCTAssertThrowsError(try OptimizerConfiguration(className: .adam, rule: try AdaGrad(), schedule: try ConstantSchedule(learningRate: 1)))
        let lamb = try OptimizerConfiguration(className: .lamb, rule: try Adam(), trustRatio: .lamb(),
                                              weightDecay: try WeightDecay(rate: 0.01, mode: .inUpdate),
                                              schedule: try ConstantSchedule(learningRate: 0.001), layerRates: .off)
        XCTAssertEqual(lamb.json["class_name"], .string("LAMB"))
    }

    // MARK: - The chain

    /// The optimizer's chain holds a stage for each part that does something, in the documented order.
    func testChainHasOneStagePerPartInOrder() throws {
        func stages(_ text: String) throws -> [String] {
            try Optimizer.make(config: try JSONValue.parse(text)).stages.map { String(describing: type(of: $0)) }
        }
        XCTAssertEqual(try stages(#"{"class_name": "SGD"}"#), ["LayerRatesStage"])
        XCTAssertEqual(try stages(#"{"class_name": "LARS", "config": {"weight_decay": 0.001, "clipvalue": 1}}"#),
                       ["GradientClippingStage", "WeightDecayStage", "TrustRatioStage", "LayerRatesStage"])
        XCTAssertEqual(try stages(#"{"class_name": "AdamW", "config": {"global_clipnorm": 1}}"#),
                       ["GradientClippingStage", "WeightDecayStage", "LayerRatesStage"])
    }

    /// A new schedule on the saved state (`lrt resume --learning-rate`): slots, steps and multipliers
    /// carry over, the next step uses the new rate, and the saved optimizer is left as it was.
    func testReplacingTheScheduleKeepsTheState() throws {
        let optimizer = try Optimizer.make(config: try JSONValue.parse(#"{"class_name": "Adam", "config": {"learning_rate": 0.01}}"#))
        let groups = ReferenceTests.referenceGroups()
        for step in 1...3 {
            ReferenceTests.setGradients(groups, step: step)
            optimizer.apply(to: groups, epoch: 0)
        }
        let continued = optimizer.replacingSchedule(try ConstantSchedule(learningRate: 0.002))
        XCTAssertEqual(continued.step, 3)
        XCTAssertEqual(continued.slots, optimizer.slots)
        XCTAssertEqual(continued.scalarState["parameter_steps"], optimizer.scalarState["parameter_steps"])
        XCTAssertEqual(continued.multipliers.map(\.multiplier), optimizer.multipliers.map(\.multiplier))
        XCTAssertEqual(continued.nextRate(epoch: 1), 0.002)
        XCTAssertEqual(continued.configuration, optimizer.configuration.replacingSchedule(try ConstantSchedule(learningRate: 0.002)))
        let before = optimizer.slots
        ReferenceTests.setGradients(groups, step: 4)
        continued.apply(to: groups, epoch: 1)
        XCTAssertEqual(optimizer.slots, before, "the saved optimizer's slots are its own")
        XCTAssertNotEqual(continued.slots, before)
        XCTAssertEqual(optimizer.nextRate(epoch: 1), 0.01)
    }
}
